// CSV parsing for the examples' real formats: RFC 4180 quoting (the IMDb reviews contain commas,
// quotes and newlines inside fields), CRLF or LF line ends, '#' comment lines where asked. Errors
// name the source and the line.

export interface CsvOptions {
  /** Skip lines starting with '#' (outside quotes). */
  comments?: boolean;
}

/** Parses CSV text into rows of fields, each with the 1-based line it starts on. */
export function parseCsv(text: string, source: string, o: CsvOptions = {}): { fields: string[]; line: number }[] {
  const rows: { fields: string[]; line: number }[] = [];
  let i = 0, line = 1;
  const n = text.length;
  while (i < n) {
    const startLine = line;
    if (o.comments && text[i] === '#') {
      while (i < n && text[i] !== '\n') i++;
      i++; line++;
      continue;
    }
    if (text[i] === '\n' || (text[i] === '\r' && text[i + 1] === '\n')) {
      i += text[i] === '\r' ? 2 : 1; line++;
      continue; // blank line
    }
    const fields: string[] = [];
    for (;;) {
      let field = '';
      if (text[i] === '"') {
        i++;
        for (;;) {
          if (i >= n) throw new Error(`${source}:${startLine}: unterminated quoted field`);
          const c = text[i];
          if (c === '"') {
            if (text[i + 1] === '"') { field += '"'; i += 2; continue; }
            i++;
            break;
          }
          if (c === '\n') line++;
          field += c;
          i++;
        }
        if (i < n && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') {
          throw new Error(`${source}:${line}: unexpected character ${JSON.stringify(text[i])} after a quoted field`);
        }
      } else {
        while (i < n && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') field += text[i++];
      }
      fields.push(field);
      if (text[i] === ',') { i++; continue; }
      if (text[i] === '\r') i++;
      if (text[i] === '\n') { i++; line++; }
      break;
    }
    rows.push({ fields, line: startLine });
  }
  return rows;
}

/** Parses a numeric CSV (every field a finite number) with an optional header row. */
export function parseNumericCsv(text: string, source: string, o: CsvOptions & { columns?: number; header?: boolean } = {}): number[][] {
  const rows = parseCsv(text, source, o);
  if (rows.length === 0) throw new Error(`${source}: no data rows`);
  const start = o.header ? 1 : 0;
  const width = o.columns ?? rows[start]?.fields.length;
  const out: number[][] = [];
  for (const r of rows.slice(start)) {
    if (r.fields.length !== width) throw new Error(`${source}:${r.line}: ${r.fields.length} fields, expected ${width}`);
    out.push(r.fields.map((f, j) => {
      const v = Number(f.trim());
      if (f.trim() === '' || !Number.isFinite(v)) throw new Error(`${source}:${r.line}: field ${j + 1} (${JSON.stringify(f)}) is not a number`);
      return v;
    }));
  }
  if (out.length === 0) throw new Error(`${source}: no data rows`);
  return out;
}
