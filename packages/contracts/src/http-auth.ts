import { type Static, Type } from "@sinclair/typebox";
import { DateTimeString } from "./http-common.js";

export const ROLES = ["admin", "finance", "viewer"] as const;
export const Role = Type.Union(
  ROLES.map((r) => Type.Literal(r)),
  {
    description: "admin: everything, users included; finance: reads and syncs; viewer: reads only",
  },
);
export type Role = (typeof ROLES)[number];

const Email = Type.String({ format: "email", minLength: 3, maxLength: 254 });
/** At least 12 characters for new passwords; any length up to 1024 is accepted at login. */
const NewPassword = Type.String({ minLength: 12, maxLength: 1024, description: "At least 12 characters" });

export const LoginBody = Type.Object(
  { email: Email, password: Type.String({ minLength: 1, maxLength: 1024 }) },
  { additionalProperties: false },
);

export const User = Type.Object({
  id: Type.String({ format: "uuid" }),
  email: Type.String(),
  name: Type.Union([Type.String(), Type.Null()]),
  role: Role,
  disabled: Type.Boolean(),
  createdAt: DateTimeString,
  lastLoginAt: Type.Union([DateTimeString, Type.Null()]),
  mustChangePassword: Type.Boolean({
    description:
      "The password was chosen by someone else (the first admin's ADMIN_PASSWORD, in production): until the user sets a new one at POST /api/v1/auth/password, every other route answers 403 with type urn:finanzas:problem:password-change-required",
  }),
});

export const TokenResponse = Type.Object({
  tokenType: Type.Literal("Bearer"),
  accessToken: Type.String({ description: "JWT for the Authorization header" }),
  expiresIn: Type.Integer({
    description:
      "Seconds until the access token expires. It stops working sooner, with a 401, when it is revoked: logout of its session, logout everywhere, or the user disabled or given a new role or password. Then log in again.",
  }),
  refreshToken: Type.String({
    description: "Single use: exchange it at /auth/refresh for a new pair. Reusing it revokes the session.",
  }),
  refreshExpiresAt: DateTimeString,
  user: User,
});

const RefreshToken = Type.String({ minLength: 20, maxLength: 512, pattern: "^[A-Za-z0-9_.-]+$" });
export const RefreshBody = Type.Object({ refreshToken: RefreshToken }, { additionalProperties: false });
export const LogoutBody = Type.Object({ refreshToken: RefreshToken }, { additionalProperties: false });

/**
 * The `detail` of the 401 problem a route answers when the bearer access token is refused (with
 * `WWW-Authenticate: Bearer error="invalid_token"`). On `expired` and `revoked` a client holding a
 * refresh token may exchange it at /auth/refresh and send the request again (the server did nothing
 * with it); when the refresh is refused too, the user has to log in again.
 */
export const ACCESS_TOKEN_PROBLEMS = {
  expired: "the access token has expired: refresh it",
  revoked: "token revoked: sign in again",
  invalid: "the access token is invalid",
} as const;

/**
 * The RFC 9457 `type` of those 401 problems, one per reason: what a client should match on (the
 * `detail` is for people and may be reworded).
 */
export const ACCESS_TOKEN_PROBLEM_TYPES = {
  expired: "urn:finanzas:problem:access-token-expired",
  revoked: "urn:finanzas:problem:access-token-revoked",
  invalid: "urn:finanzas:problem:access-token-invalid",
} as const satisfies Record<keyof typeof ACCESS_TOKEN_PROBLEMS, string>;

/** The body of POST /auth/password: the password in use, and the new one. */
export const ChangePasswordBody = Type.Object(
  {
    currentPassword: Type.String({ minLength: 1, maxLength: 1024 }),
    newPassword: Type.String({
      minLength: 12,
      maxLength: 1024,
      description:
        "At least 12 characters; not the current password, and not a value published in the Finanzas repository",
    }),
  },
  { additionalProperties: false },
);

/**
 * The `type` of the 403 problem every route but POST /auth/password answers while the caller's
 * password must be changed (User.mustChangePassword).
 */
export const PASSWORD_CHANGE_REQUIRED_TYPE = "urn:finanzas:problem:password-change-required";

export const CreateUserBody = Type.Object(
  {
    email: Email,
    password: NewPassword,
    role: Role,
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  { additionalProperties: false },
);

export const UpdateUserBody = Type.Object(
  {
    role: Type.Optional(Role),
    disabled: Type.Optional(
      Type.Boolean({
        description: "true disables the user: its sessions and access tokens stop working at once",
      }),
    ),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    password: Type.Optional(NewPassword),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const UserList = Type.Object({ items: Type.Array(User) });

export type LoginBody = Static<typeof LoginBody>;
export type ChangePasswordBody = Static<typeof ChangePasswordBody>;
export type TokenResponse = Static<typeof TokenResponse>;
export type UserDto = Static<typeof User>;
