import { loadSettings, SettingsError } from '../../lib/config/load';

/** The problems reported for values merged over a profile (none: the settings are valid). */
export function problemsWith(values: unknown, profile = 'kind'): readonly string[] {
  try {
    loadSettings({ profile, values });
    return [];
  } catch (error) {
    if (error instanceof SettingsError) return error.problems;
    throw error;
  }
}
