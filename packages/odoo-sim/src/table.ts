import type { FieldDef, FieldType, ModelDef } from "./models.js";

/** NULL for date columns (days since 1970-01-01 in an Int32Array). */
export const NULL_DATE = -2147483648;

export type Column =
  | { kind: "i32"; data: Int32Array }
  | { kind: "f64"; data: Float64Array }
  | { kind: "u8"; data: Uint8Array }
  | { kind: "ref"; data: unknown[] };

export function columnKind(type: FieldType): Column["kind"] | null {
  switch (type) {
    case "integer":
    case "many2one":
    case "date":
      return "i32";
    case "float":
    case "monetary":
    case "datetime":
      return "f64";
    case "boolean":
      return "u8";
    case "one2many":
      return null;
    default:
      return "ref";
  }
}

/**
 * Column storage for one model: typed arrays for numbers, ids, dates (days) and datetimes
 * (microseconds since the epoch, NaN = NULL), plain arrays for strings and JSON. Rows are appended
 * with increasing ids, so row order is id order; deleted rows stay as tombstones (`alive = 0`).
 */
export class Table {
  size = 0;
  live = 0;
  nextId = 1;
  /** Bumped on every mutation: invalidates sort caches and reverse indexes. */
  version = 0;
  ids: Int32Array;
  alive: Uint8Array;
  rowById: Int32Array;
  readonly cols = new Map<string, Column>();
  /** Integers that do not fit an Int32Array (written through the control API to test overflow faults). */
  readonly bigInts = new Map<string, number>();
  /** Live rows sorted by (write_date, id); built lazily, patched on writes. */
  private wdIndex: Int32Array | null = null;
  private readonly sortCache = new Map<string, { version: number; rows: Int32Array }>();
  private cap: number;

  constructor(
    readonly def: ModelDef,
    capacity = 64,
  ) {
    this.cap = Math.max(16, capacity);
    this.ids = new Int32Array(this.cap);
    this.alive = new Uint8Array(this.cap);
    this.rowById = new Int32Array(this.cap + 1).fill(-1);
    for (const f of def.fields) {
      if (f.name === "id" || !f.store || f.compute) continue;
      const kind = columnKind(f.type);
      if (!kind) continue;
      this.cols.set(f.name, this.newColumn(kind, f));
    }
  }

  private newColumn(kind: Column["kind"], f: FieldDef): Column {
    switch (kind) {
      case "i32": {
        const data = new Int32Array(this.cap);
        if (f.type === "date") data.fill(NULL_DATE);
        return { kind, data };
      }
      case "f64": {
        const data = new Float64Array(this.cap);
        if (f.type === "datetime") data.fill(Number.NaN);
        return { kind, data };
      }
      case "u8":
        return { kind, data: new Uint8Array(this.cap) };
      default:
        return { kind: "ref", data: [] };
    }
  }

  col(name: string): Column {
    const c = this.cols.get(name);
    if (!c) throw new Error(`${this.def.name} has no stored column ${name}`);
    return c;
  }
  i32(name: string): Int32Array {
    const c = this.col(name);
    if (c.kind !== "i32") throw new Error(`${name} is not an i32 column`);
    return c.data;
  }
  f64(name: string): Float64Array {
    const c = this.col(name);
    if (c.kind !== "f64") throw new Error(`${name} is not an f64 column`);
    return c.data;
  }
  u8(name: string): Uint8Array {
    const c = this.col(name);
    if (c.kind !== "u8") throw new Error(`${name} is not a u8 column`);
    return c.data;
  }
  ref(name: string): unknown[] {
    const c = this.col(name);
    if (c.kind !== "ref") throw new Error(`${name} is not a ref column`);
    return c.data;
  }

  reserve(rows: number): void {
    const need = this.size + rows;
    if (need <= this.cap) return;
    let cap = this.cap;
    while (cap < need) cap *= 2;
    const grow = <T extends Int32Array | Float64Array | Uint8Array>(a: T, fill?: number): T => {
      const b = new (a.constructor as new (n: number) => T)(cap);
      b.set(a);
      if (fill !== undefined) b.fill(fill, a.length);
      return b;
    };
    this.ids = grow(this.ids);
    this.alive = grow(this.alive);
    for (const [name, c] of this.cols) {
      const f = this.def.byName.get(name);
      if (c.kind === "i32") c.data = grow(c.data, f?.type === "date" ? NULL_DATE : 0);
      else if (c.kind === "f64") c.data = grow(c.data, f?.type === "datetime" ? Number.NaN : 0);
      else if (c.kind === "u8") c.data = grow(c.data);
    }
    this.cap = cap;
  }

  /** Appends a row for a new record (next id unless given) and returns its row index. */
  append(id = this.nextId): number {
    if (id < this.nextId) throw new Error(`${this.def.name}: ids must increase (${id} < ${this.nextId})`);
    this.reserve(1);
    const row = this.size++;
    this.ids[row] = id;
    this.alive[row] = 1;
    if (id >= this.rowById.length) {
      const b = new Int32Array(Math.max(id + 1, this.rowById.length * 2)).fill(-1);
      b.set(this.rowById);
      this.rowById = b;
    }
    this.rowById[id] = row;
    this.nextId = id + 1;
    this.live++;
    return row;
  }

  rowOf(id: number): number {
    if (!Number.isInteger(id) || id <= 0 || id >= this.rowById.length) return -1;
    return this.rowById[id]!;
  }

  remove(row: number): void {
    if (!this.alive[row]) return;
    this.alive[row] = 0;
    this.rowById[this.ids[row]!] = -1;
    this.live--;
  }

  liveRows(): Int32Array {
    const out = new Int32Array(this.live);
    let n = 0;
    for (let r = 0; r < this.size; r++) if (this.alive[r]) out[n++] = r;
    return out;
  }

  /** First row whose id is >= id (rows are in id order). */
  lowerBoundId(id: number): number {
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ids[mid]! < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  // ---- (write_date, id) index ------------------------------------------------------------

  writeDateIndex(): Int32Array {
    if (!this.wdIndex) {
      const wd = this.f64("write_date");
      const rows = this.liveRows();
      // Stable on row (= id) order, so equal write_dates stay in id order.
      const sorted = Array.from(rows).sort((a, b) => wd[a]! - wd[b]! || a - b);
      this.wdIndex = Int32Array.from(sorted);
    }
    return this.wdIndex;
  }

  /** Re-positions rows whose write_date changed (or that were added/removed) in O(n + k log k). */
  patchWriteDateIndex(changed: Iterable<number>): void {
    if (!this.wdIndex) return;
    const wd = this.f64("write_date");
    const mark = new Uint8Array(this.size);
    const moved: number[] = [];
    for (const r of changed) {
      if (mark[r]) continue;
      mark[r] = 1;
      if (this.alive[r]) moved.push(r);
    }
    moved.sort((a, b) => wd[a]! - wd[b]! || a - b);
    const old = this.wdIndex;
    const out = new Int32Array(this.live);
    let n = 0;
    let j = 0;
    for (let i = 0; i < old.length; i++) {
      const r = old[i]!;
      if (mark[r] || !this.alive[r]) continue;
      while (j < moved.length && (wd[moved[j]!]! < wd[r]! || (wd[moved[j]!]! === wd[r]! && moved[j]! < r))) {
        out[n++] = moved[j++]!;
      }
      out[n++] = r;
    }
    while (j < moved.length) out[n++] = moved[j++]!;
    this.wdIndex = n === out.length ? out : out.slice(0, n);
  }

  /** Cached full sort of live rows for an order clause; invalidated by any mutation. */
  sorted(key: string, compare: (a: number, b: number) => number): Int32Array {
    const hit = this.sortCache.get(key);
    if (hit && hit.version === this.version) return hit.rows;
    const rows = Int32Array.from(Array.from(this.liveRows()).sort(compare));
    this.sortCache.set(key, { version: this.version, rows });
    return rows;
  }

  touch(): void {
    this.version++;
  }
}
