/** The web-api's own tables (users, refresh tokens, …), schema `app`. Added with their migrations. */
// biome-ignore lint/suspicious/noEmptyInterface: tables arrive with the migrations that create them
export interface AppTables {}
