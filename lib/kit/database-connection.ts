import { DatabaseTls } from './volumes';

/** What a client of the database needs: the connection, and the image whose tools (pg_isready, pg_dump) it runs. */
export interface DatabaseConnection {
  /** The database's image, whose client tools match the server's major version. */
  readonly image: string;
  /** The database's owner, as whom clients connect. */
  readonly user: string;
  /** The database Letta uses. */
  readonly databaseName: string;
  /** The Secret whose key "password" holds the owner's password. */
  readonly passwordSecretName: string;
  /** TLS of the clients' connections. */
  readonly tls: DatabaseTls;
}
