import { Ajv, type Options } from "ajv";
import formats from "ajv-formats";
import type { FastifySchemaCompiler } from "fastify";

type AddFormats = (ajv: Ajv) => Ajv;
// ajv-formats is CommonJS: under NodeNext its default import is the module object.
const addFormats = ((formats as unknown as { default?: AddFormats }).default ?? formats) as AddFormats;

/**
 * Request validation. Query strings and path parameters arrive as text, so they are coerced
 * ("50" → 50, "true" → true); JSON bodies are not: `"password": 123` is a 400, not a string.
 * Nothing is stripped (removeAdditional false: an unknown field is an error naming it), and every
 * bad field is reported (allErrors).
 */
function ajvFor(coerce: boolean) {
  const options: Options = {
    coerceTypes: coerce ? "array" : false,
    useDefaults: true,
    removeAdditional: false,
    allErrors: true,
    strict: false,
    discriminator: true,
    // errors carry their schema: a bad value of a union of literals is answered with the accepted ones
    verbose: true,
  };
  const ajv = new Ajv(options);
  addFormats(ajv);
  return ajv;
}

type Node = { [key: string]: unknown };
const isNode = (value: unknown): value is Node => typeof value === "object" && value !== null;

/** The property every branch of a union of objects fixes to a distinct literal (`kind`), if any. */
function tagOf(branches: unknown[]): string | undefined {
  const first = branches[0];
  if (branches.length < 2 || !isNode(first) || !isNode(first.properties)) return undefined;
  for (const name of Object.keys(first.properties)) {
    const values = branches.map((b) => {
      if (!isNode(b) || !isNode(b.properties) || !Array.isArray(b.required)) return undefined;
      const property = b.properties[name];
      return b.required.includes(name) && isNode(property) && typeof property.const === "string"
        ? property.const
        : undefined;
    });
    if (values.every((v) => v !== undefined) && new Set(values).size === values.length) return name;
  }
  return undefined;
}

/**
 * A copy of `schema` in which each union of objects told apart by a literal property (a mailing's
 * `kind`) is a discriminated oneOf: a request is checked against its own branch only, so its errors
 * name its own bad fields instead of every other branch's.
 */
export function withDiscriminators(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withDiscriminators);
  if (!isNode(schema)) return schema;
  const copy: Node = {};
  for (const [key, value] of Object.entries(schema)) copy[key] = withDiscriminators(value);
  const branches = copy.anyOf;
  const tag = Array.isArray(branches) ? tagOf(branches) : undefined;
  if (tag) {
    delete copy.anyOf;
    copy.type = "object";
    copy.oneOf = branches;
    copy.discriminator = { propertyName: tag };
  }
  return copy;
}

export function validatorCompiler(): FastifySchemaCompiler<unknown> {
  const text = ajvFor(true);
  const json = ajvFor(false);
  return ({ schema, httpPart }) =>
    (httpPart === "body" ? json : text).compile(withDiscriminators(schema) as object) as never;
}

const schemaCheckers = new WeakMap<object, ReturnType<Ajv["compile"]>>();
let bodyAjv: Ajv | undefined;

/**
 * Checks a part of a JSON body against a schema chosen at run time (a report's parameters by its
 * kind) with the same rules as the route schemas, and names each bad field under `prefix`
 * (`body.params.dateFrom`), as Fastify's own validation errors do.
 */
export function fieldErrors(
  schema: object,
  value: unknown,
  prefix: string,
): { field: string; message: string }[] {
  bodyAjv ??= ajvFor(false);
  let check = schemaCheckers.get(schema);
  if (!check) {
    check = bodyAjv.compile(schema);
    schemaCheckers.set(schema, check);
  }
  if (check(value)) return [];
  return (check.errors ?? []).map((e) => {
    const params = e.params as { missingProperty?: string; additionalProperty?: string };
    const leaf = params.missingProperty ?? params.additionalProperty;
    const path = e.instancePath.replace(/^\//, "").replace(/\//g, ".");
    const field = [prefix, path, leaf].filter(Boolean).join(".");
    const message = params.additionalProperty
      ? "is not an accepted field"
      : params.missingProperty
        ? "is required"
        : (e.message ?? "is invalid");
    return { field, message };
  });
}
