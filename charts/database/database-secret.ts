/** Key of the database Secret that holds the password; every client mounts or reads this key. */
export const DATABASE_PASSWORD_KEY = 'password';
