import { FormatRegistry, type TSchema } from "@sinclair/typebox";
import { type TypeCheck, TypeCompiler } from "@sinclair/typebox/compiler";

// The string formats the contracts' payloads use (TypeBox checks none by itself): the same
// meaning as the HTTP side's ajv-formats.
const FORMATS: Record<string, RegExp> = {
  uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
  date: /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/,
};
for (const [name, pattern] of Object.entries(FORMATS)) {
  if (!FormatRegistry.Has(name)) FormatRegistry.Set(name, (value) => pattern.test(value));
}

/** A payload or result that does not match its contract. Lists every bad field. */
export class PayloadError extends Error {
  constructor(
    readonly what: string,
    readonly problems: readonly { path: string; message: string }[],
  ) {
    super(
      `invalid ${what}: ${problems.map((p) => `${p.path || "(root)"} ${p.message.toLowerCase()}`).join("; ")}`,
    );
    this.name = "PayloadError";
  }
}

const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>();

function checker(schema: TSchema): TypeCheck<TSchema> {
  let check = compiled.get(schema);
  if (!check) {
    check = TypeCompiler.Compile(schema);
    compiled.set(schema, check);
  }
  return check;
}

/** Throws a PayloadError naming each bad field unless `value` matches `schema`. */
export function assertMatches(schema: TSchema, value: unknown, what: string): void {
  const check = checker(schema);
  if (check.Check(value)) return;
  const problems = [...check.Errors(value)].slice(0, 20).map((e) => ({ path: e.path, message: e.message }));
  throw new PayloadError(what, problems);
}
