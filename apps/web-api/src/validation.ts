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
  };
  const ajv = new Ajv(options);
  addFormats(ajv);
  return ajv;
}

export function validatorCompiler(): FastifySchemaCompiler<unknown> {
  const text = ajvFor(true);
  const json = ajvFor(false);
  return ({ schema, httpPart }) => (httpPart === "body" ? json : text).compile(schema as object) as never;
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
