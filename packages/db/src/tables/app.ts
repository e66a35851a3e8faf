import type { ColumnType, Generated } from "kysely";

/** The web-api's own tables, schema `app`. */

export type Role = "admin" | "finance" | "viewer";

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null, Date | string | null>;

export interface UsersTable {
  id: Generated<string>;
  /** Unique case-insensitively (index on lower(email)). */
  email: string;
  name: string | null;
  role: Role;
  /** argon2id, PHC string. */
  password_hash: string;
  disabled_at: NullableTimestamp;
  /**
   * Goes up when the user is disabled or their role or password changes; access tokens carry the
   * version they were issued under, and one below this is refused (see web-api auth/revocations.ts).
   */
  token_version: ColumnType<number, number | undefined, number>;
  /** When token_version last went up (replicas keep only recent revocations in memory). */
  tokens_revoked_at: NullableTimestamp;
  last_login_at: NullableTimestamp;
  /**
   * The password was chosen by someone else (the first admin's ADMIN_PASSWORD, in production): until
   * the user sets a new one, every route but the password change answers 403.
   */
  must_change_password: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: ColumnType<Date, Date | string | undefined, Date | string>;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export interface RefreshTokensTable {
  id: string;
  user_id: string;
  /** Every token rotated from one login shares its family; reuse of a rotated one revokes the family. */
  family_id: string;
  /** sha-256 (hex) of the token; the token itself is never stored. */
  token_hash: string;
  created_at: ColumnType<Date, Date | string | undefined, Date | string>;
  expires_at: Timestamp;
  /** Set when this token was exchanged for a new one: presenting it again is reuse. */
  rotated_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
  revoked_reason: string | null;
}

export interface AppTables {
  "app.users": UsersTable;
  "app.refresh_tokens": RefreshTokensTable;
}
