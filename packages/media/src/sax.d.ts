/** sax ships no types; this is the part of its API the video XMP reader uses (v1, strict, namespace-aware). */
declare module 'sax' {
  interface QualifiedAttribute {
    name: string;
    value: string;
    prefix: string;
    local: string;
    uri: string;
  }
  interface QualifiedTag {
    name: string;
    prefix: string;
    local: string;
    uri: string;
    attributes: Record<string, QualifiedAttribute>;
    isSelfClosing: boolean;
  }
  interface SAXParser {
    /** Each attribute of a tag (namespace declarations included), its prefix resolved, just before the tag's onopentag. */
    onattribute: (attribute: QualifiedAttribute) => void;
    onopentag: (tag: QualifiedTag) => void;
    onclosetag: (name: string) => void;
    ontext: (text: string) => void;
    oncdata: (text: string) => void;
    ondoctype: (doctype: string) => void;
    onerror: (err: Error) => void;
    /** The attributes of the tag being read, until it is opened (sax's own state, read to bound it). */
    readonly attribList: unknown[];
    /** With `position`: characters read so far, and where the tag being read starts (just after its `<`). */
    readonly position: number;
    readonly startTagPosition: number;
    write(chunk: string): SAXParser;
    close(): SAXParser;
  }
  function parser(strict: boolean, options: { xmlns: true; position?: boolean; trim?: boolean; normalize?: boolean }): SAXParser;
  const sax: { parser: typeof parser };
  export default sax;
}
