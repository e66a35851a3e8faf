import { type Static, type TSchema, Type } from "@sinclair/typebox";

/*
 * Building blocks of the REST API's schemas. Every object that a client sends is closed
 * (additionalProperties: false): an unknown field is a 400 that names it, never silently ignored.
 */

/** An exact decimal number as a string ("1234.50", "-3"): money never travels as a float. */
export const Decimal = Type.String({
  pattern: "^-?[0-9]+(\\.[0-9]+)?$",
  description: "Exact decimal number as a string (money is never a float)",
  examples: ["1234.50"],
});

/** ISO 4217-ish code of a currency as Odoo names it ("EUR", "USD"). */
export const CurrencyCode = Type.String({ description: "Currency code, e.g. EUR", examples: ["EUR"] });

export const DateString = Type.String({ format: "date", description: "Calendar date, YYYY-MM-DD" });
export const DateTimeString = Type.String({ format: "date-time" });

/** An Odoo record id. */
export const OdooId = Type.Integer({ minimum: 1, maximum: 2_147_483_647 });
export const NullableId = Type.Union([OdooId, Type.Null()]);
export const NullableString = Type.Union([Type.String(), Type.Null()]);
export const NullableDate = Type.Union([DateString, Type.Null()]);

export const MAX_PAGE_SIZE = 200;
export const DEFAULT_PAGE_SIZE = 50;

/** Page size: at most MAX_PAGE_SIZE; a larger value is a 400, not silently capped. */
export const Limit = Type.Integer({
  minimum: 1,
  maximum: MAX_PAGE_SIZE,
  default: DEFAULT_PAGE_SIZE,
  description: `Page size (1–${MAX_PAGE_SIZE})`,
});

/** Opaque keyset cursor: the `next` of the previous page, with the same filters and sort. */
export const Cursor = Type.String({
  minLength: 1,
  maxLength: 512,
  pattern: "^[A-Za-z0-9_-]+$",
  description: "The `next` value of the previous page (same filters and sort)",
});

/**
 * Free-text search: letters, digits, spaces and . , _ / # & @ ( ) + : - only. Quotes, semicolons,
 * backslashes and wildcards are refused with a 400, so hostile input never reaches a query.
 */
export const SearchText = Type.String({
  minLength: 1,
  maxLength: 100,
  pattern: "^[\\p{L}\\p{N} .,_/#&@()+:-]+$",
  description: "Text search (letters, digits, spaces and . , _ / # & @ ( ) + : -)",
});

/**
 * A UUID by pattern, for queue payloads: TypeBox's compiler checks them, and it knows no string
 * formats unless registered (the HTTP side's ajv-formats knows `format: "uuid"`).
 */
export const Uuid = Type.String({
  pattern: "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
});

export const IdParams = Type.Object({ id: OdooId }, { additionalProperties: false });
export const UuidParams = Type.Object(
  { id: Type.String({ format: "uuid" }) },
  { additionalProperties: false },
);

/** One page of a keyset-paginated list; `next` is null on the last page. */
export const Page = <T extends TSchema>(item: T, name: string) =>
  Type.Object(
    {
      items: Type.Array(item),
      next: Type.Union([Cursor, Type.Null()], { description: "Cursor of the next page; null on the last" }),
    },
    { title: name },
  );

/** A closed query-string object. */
export const Query = <P extends Record<string, TSchema>>(properties: P) =>
  Type.Object(properties, { additionalProperties: false });

export type PageOf<T> = { items: T[]; next: string | null };
export type DecimalString = Static<typeof Decimal>;
