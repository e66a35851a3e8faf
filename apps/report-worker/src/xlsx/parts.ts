/**
 * The package parts around the sheets (ECMA-376 part 2, Open Packaging Conventions, and part 1
 * §12.3): content types, relationships, the workbook part, and the document properties. Small
 * strings built once per workbook.
 */
import { escapeAttr, escapeText, escapeXml } from "./cells.js";
import { quoteSheetName } from "./sheet-names.js";

const XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n';
const REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
const PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships";
const MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";

export interface DocumentProperties {
  title: string;
  creator: string;
  created: Date;
  subject?: string;
}

/** A finished sheet as the workbook part lists it. */
export interface SheetEntry {
  name: string;
  /** The autofilter's range without the sheet (A3:I120), when the sheet has one. */
  filterRef?: string;
}

export const sheetPath = (index: number) => `xl/worksheets/sheet${index + 1}.xml`;

export function contentTypesXml(sheetCount: number): string {
  const sheets = Array.from(
    { length: sheetCount },
    (_, i) =>
      `<Override PartName="/${sheetPath(i)}" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>`,
  ).join("");
  return (
    `${XML_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>' +
    '<Default Extension="xml" ContentType="application/xml"/>' +
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>' +
    sheets +
    '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>' +
    '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>' +
    '<Override PartName="/docProps/app.xml" ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>' +
    "</Types>"
  );
}

export function rootRelsXml(): string {
  return (
    `${XML_HEAD}<Relationships xmlns="${PKG_REL}">` +
    `<Relationship Id="rId1" Type="${REL}/officeDocument" Target="xl/workbook.xml"/>` +
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>' +
    `<Relationship Id="rId3" Type="${REL}/extended-properties" Target="docProps/app.xml"/>` +
    "</Relationships>"
  );
}

export function workbookRelsXml(sheetCount: number): string {
  let rels = "";
  for (let i = 0; i < sheetCount; i++) {
    rels += `<Relationship Id="rId${i + 1}" Type="${REL}/worksheet" Target="worksheets/sheet${i + 1}.xml"/>`;
  }
  rels += `<Relationship Id="rId${sheetCount + 1}" Type="${REL}/styles" Target="styles.xml"/>`;
  return `${XML_HEAD}<Relationships xmlns="${PKG_REL}">${rels}</Relationships>`;
}

/**
 * xl/workbook.xml (CT_Workbook, §18.2.27: bookViews, sheets, definedNames in that order). Each
 * autofilter needs, besides <autoFilter> in its sheet, the hidden defined name
 * `_xlnm._FilterDatabase` scoped to that sheet (§18.2.5): Excel shows the filter buttons without
 * it, but sorting and re-applying the filter use it.
 */
export function workbookXml(sheets: readonly SheetEntry[]): string {
  const list = sheets
    .map((s, i) => `<sheet name="${escapeAttr(s.name)}" sheetId="${i + 1}" r:id="rId${i + 1}"/>`)
    .join("");
  const names = sheets
    .map((s, i) => {
      if (s.filterRef === undefined) return "";
      const absolute = s.filterRef.replace(/([A-Z]+)(\d+)/g, "$$$1$$$2");
      return `<definedName name="_xlnm._FilterDatabase" localSheetId="${i}" hidden="1">${escapeText(
        `${quoteSheetName(s.name)}!${absolute}`,
      )}</definedName>`;
    })
    .join("");
  return (
    `${XML_HEAD}<workbook xmlns="${MAIN}" xmlns:r="${REL}">` +
    '<workbookPr/><bookViews><workbookView activeTab="0"/></bookViews>' +
    `<sheets>${list}</sheets>` +
    (names === "" ? "" : `<definedNames>${names}</definedNames>`) +
    '<calcPr calcId="191029"/></workbook>'
  );
}

/** W3CDTF as Office writes it: UTC, whole seconds. */
const w3cdtf = (date: Date) => `${date.toISOString().slice(0, 19)}Z`;

/** docProps/core.xml: title, subject, creator, created (OPC core properties, part 2 §11). */
export function coreXml(props: DocumentProperties): string {
  if (Number.isNaN(props.created.getTime())) {
    throw new RangeError("document property created is an invalid Date");
  }
  const created = w3cdtf(props.created);
  return (
    `${XML_HEAD}<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties"` +
    ' xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/"' +
    ' xmlns:dcmitype="http://purl.org/dc/dcmitype/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">' +
    `<dc:title>${escapeXml(props.title)}</dc:title>` +
    (props.subject === undefined ? "" : `<dc:subject>${escapeXml(props.subject)}</dc:subject>`) +
    `<dc:creator>${escapeXml(props.creator)}</dc:creator>` +
    `<cp:lastModifiedBy>${escapeXml(props.creator)}</cp:lastModifiedBy>` +
    `<dcterms:created xsi:type="dcterms:W3CDTF">${created}</dcterms:created>` +
    `<dcterms:modified xsi:type="dcterms:W3CDTF">${created}</dcterms:modified>` +
    "</cp:coreProperties>"
  );
}

/** docProps/app.xml: the application and the sheet titles, as Excel lists them (§22.2). */
export function appXml(sheetNames: readonly string[]): string {
  const titles = sheetNames.map((n) => `<vt:lpstr>${escapeXml(n)}</vt:lpstr>`).join("");
  return (
    `${XML_HEAD}<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"` +
    ' xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">' +
    "<Application>Finanzas</Application><DocSecurity>0</DocSecurity><ScaleCrop>false</ScaleCrop>" +
    '<HeadingPairs><vt:vector size="2" baseType="variant">' +
    `<vt:variant><vt:lpstr>Worksheets</vt:lpstr></vt:variant><vt:variant><vt:i4>${sheetNames.length}</vt:i4></vt:variant>` +
    "</vt:vector></HeadingPairs>" +
    `<TitlesOfParts><vt:vector size="${sheetNames.length}" baseType="lpstr">${titles}</vt:vector></TitlesOfParts>` +
    "<LinksUpToDate>false</LinksUpToDate><SharedDoc>false</SharedDoc><HyperlinksChanged>false</HyperlinksChanged>" +
    "<AppVersion>16.0300</AppVersion></Properties>"
  );
}
