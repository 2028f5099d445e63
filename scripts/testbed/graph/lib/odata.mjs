// OData query options as Microsoft Graph's mail endpoints take them: pure parsing and
// evaluation, no I/O (unit-tested by ../tests/odata.test.mjs).
//
// Supported: $select, $filter, $orderby, $top, $skip, $search, $count, $skiptoken and
// $deltatoken, each at most once; which of them an endpoint accepts is the caller's list.
// $filter grammar (what Graph's Outlook filters accept, minus lambdas):
//   expr   := or
//   or     := and ("or" and)*
//   and    := unary ("and" unary)*
//   unary  := "not" unary | "(" expr ")" | call | compare
//   call   := (contains|startswith|endswith) "(" path "," string ")"
//   compare:= path (eq|ne|gt|ge|lt|le) literal
//   literal:= true | false | null | 'string' ('' = ') | number | ISO 8601 date-time
// Errors are thrown as ODataError(code, message), which the server answers with 400.

export class ODataError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

// Limits: Graph caps $top for messages at 1000; our own cap keeps parsing bounded.
export const MAX_TOP = 1000;
export const MAX_FILTER_LENGTH = 4096;
export const MAX_FILTER_DEPTH = 32;

const KNOWN_OPTIONS = ['$select', '$filter', '$orderby', '$top', '$skip', '$search', '$count',
  '$expand', '$skiptoken', '$deltatoken', '$format'];

// URLSearchParams -> {name: value}; refuses duplicates and unknown $ options. Non-$
// parameters are only allowed when listed in `extra` (e.g. includeHiddenFolders).
export function parseQuery(search, allowed, extra = []) {
  const out = {};
  const params = new URLSearchParams(search);
  for (const [rawName, value] of params) {
    const name = rawName.startsWith('$') ? rawName.toLowerCase() : rawName;
    if (name.startsWith('$')) {
      if (!KNOWN_OPTIONS.includes(name)) {
        throw new ODataError('BadRequest', `Query option '${rawName}' is not supported.`);
      }
      if (!allowed.includes(name)) {
        throw new ODataError('BadRequest', `Query option '${rawName}' is not allowed on this resource.`);
      }
    } else if (!extra.includes(name)) {
      throw new ODataError('BadRequest', `Unknown query parameter '${rawName}': OData query options start with '$'.`);
    }
    if (Object.hasOwn(out, name)) {
      throw new ODataError('BadRequest', `Query option '${rawName}' was specified more than once, but it must be specified at most once.`);
    }
    out[name] = value;
  }
  return out;
}

export function parseTop(value, max = MAX_TOP) {
  if (value === undefined) return undefined;
  if (!/^\d{1,9}$/.test(value)) throw new ODataError('BadRequest', `Invalid value '${value}' for $top query option found. The $top query option requires a non-negative integer value.`);
  const n = Number(value);
  if (n > max) throw new ODataError('BadRequest', `The limit of '${max}' for Top query has been exceeded. The value from the incoming request is '${n}'.`);
  return n;
}

export function parseSkip(value) {
  if (value === undefined) return 0;
  if (!/^\d{1,9}$/.test(value)) throw new ODataError('BadRequest', `Invalid value '${value}' for $skip query option found. The $skip query option requires a non-negative integer value.`);
  return Number(value);
}

// $select=a,b -> ['a','b'], each checked against `props` (the entity's property names).
export function parseSelect(value, props, typeName) {
  if (value === undefined) return undefined;
  const names = value.split(',').map((s) => s.trim());
  for (const n of names) {
    if (!n || !props.includes(n)) {
      throw new ODataError('RequestBroker--ParseUri', `Could not find a property named '${n}' on type '${typeName}'.`);
    }
  }
  return names;
}

// $orderby=receivedDateTime desc,subject -> [{path:'receivedDateTime', desc:true}, ...]
export function parseOrderBy(value, sortable) {
  if (value === undefined) return [];
  return value.split(',').map((part) => {
    const m = /^\s*([A-Za-z/]+)(?:\s+(asc|desc))?\s*$/.exec(part);
    if (!m) throw new ODataError('BadRequest', `Invalid $orderby clause '${part.trim()}'.`);
    if (!sortable.includes(m[1])) {
      throw new ODataError('BadRequest', `The property '${m[1]}' cannot be used in the $orderby query option.`);
    }
    return { path: m[1], desc: m[2] === 'desc' };
  });
}

// ---------------------------------------------------------------------------
// $filter
// ---------------------------------------------------------------------------

const DATE_RE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2}))?/;

function tokenize(text) {
  const toks = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === ' ' || c === '\t') { i += 1; continue; }
    if (c === '(' || c === ')' || c === ',') { toks.push({ t: c }); i += 1; continue; }
    if (c === "'") {
      let s = '';
      i += 1;
      for (;;) {
        if (i >= text.length) throw new ODataError('BadRequest', `Invalid filter clause: unterminated string literal at position ${text.length}.`);
        if (text[i] === "'") {
          if (text[i + 1] === "'") { s += "'"; i += 2; continue; }
          i += 1;
          break;
        }
        s += text[i];
        i += 1;
      }
      toks.push({ t: 'str', v: s });
      continue;
    }
    const date = DATE_RE.exec(text.slice(i));
    if (date && date[0].length > 4 && date[0].includes('-')) {
      const d = new Date(date[0]);
      if (Number.isNaN(d.getTime())) throw new ODataError('BadRequest', `Invalid filter clause: '${date[0]}' is not a valid DateTimeOffset.`);
      toks.push({ t: 'date', v: d.getTime() });
      i += date[0].length;
      continue;
    }
    const num = /^-?\d+(\.\d+)?/.exec(text.slice(i));
    if (num) { toks.push({ t: 'num', v: Number(num[0]) }); i += num[0].length; continue; }
    const word = /^[A-Za-z_][A-Za-z0-9_/]*/.exec(text.slice(i));
    if (word) { toks.push({ t: 'word', v: word[0] }); i += word[0].length; continue; }
    throw new ODataError('BadRequest', `Invalid filter clause: syntax error at position ${i} in '${text}'.`);
  }
  return toks;
}

const COMPARE_OPS = ['eq', 'ne', 'gt', 'ge', 'lt', 'le'];
const FUNCTIONS = ['contains', 'startswith', 'endswith'];

// fields: {path: 'string'|'bool'|'date'|'enum'|'number'} — what the entity can be filtered on.
export function parseFilter(text, fields) {
  if (text === undefined) return undefined;
  if (text.length > MAX_FILTER_LENGTH) throw new ODataError('BadRequest', `Invalid filter clause: longer than ${MAX_FILTER_LENGTH} characters.`);
  const toks = tokenize(text);
  let pos = 0;
  const peek = () => toks[pos];
  const isWord = (w) => peek()?.t === 'word' && peek().v.toLowerCase() === w;
  const expect = (t) => {
    const tok = toks[pos];
    if (!tok || tok.t !== t) throw new ODataError('BadRequest', `Invalid filter clause: expected '${t}' at token ${pos + 1} in '${text}'.`);
    pos += 1;
    return tok;
  };
  const fieldType = (path) => {
    const type = fields[path];
    if (!type) throw new ODataError('BadRequest', `Invalid filter clause: Could not find a property named '${path}' on type 'microsoft.graph.message'.`);
    return type;
  };
  const literal = (type, path) => {
    const tok = toks[pos];
    if (!tok) throw new ODataError('BadRequest', `Invalid filter clause: missing value after '${path}'.`);
    pos += 1;
    const bad = () => new ODataError('BadRequest', `Invalid filter clause: A binary operator with incompatible types was detected. Found operand types '${type}' and '${tok.t === 'word' ? tok.v : tok.t}' for '${path}'.`);
    if (tok.t === 'word' && tok.v === 'null') return null;
    switch (type) {
      case 'bool':
        if (tok.t === 'word' && (tok.v === 'true' || tok.v === 'false')) return tok.v === 'true';
        throw bad();
      case 'date':
        if (tok.t === 'date') return tok.v;
        throw bad();
      case 'number':
        if (tok.t === 'num') return tok.v;
        throw bad();
      default:
        if (tok.t === 'str') return tok.v;
        throw bad();
    }
  };
  let depth = 0;
  function unary() {
    depth += 1;
    if (depth > MAX_FILTER_DEPTH) throw new ODataError('BadRequest', `Invalid filter clause: nested deeper than ${MAX_FILTER_DEPTH}.`);
    try {
      if (isWord('not')) { pos += 1; return { op: 'not', a: unary() }; }
      if (peek()?.t === '(') {
        pos += 1;
        const e = orExpr();
        expect(')');
        return e;
      }
      const head = expect('word');
      const lower = head.v.toLowerCase();
      if (FUNCTIONS.includes(lower) && peek()?.t === '(') {
        pos += 1;
        const path = expect('word').v;
        if (fieldType(path) !== 'string') throw new ODataError('BadRequest', `Invalid filter clause: ${lower}() needs a string property, '${path}' is not one.`);
        expect(',');
        const value = expect('str').v;
        expect(')');
        return { op: lower, path, value };
      }
      const path = head.v;
      const type = fieldType(path);
      const opTok = expect('word');
      const op = opTok.v.toLowerCase();
      if (!COMPARE_OPS.includes(op)) throw new ODataError('BadRequest', `Invalid filter clause: unknown operator '${opTok.v}'.`);
      if ((type === 'bool' || type === 'enum') && !['eq', 'ne'].includes(op)) {
        throw new ODataError('BadRequest', `Invalid filter clause: '${op}' is not supported for '${path}'.`);
      }
      return { op, path, value: literal(type, path) };
    } finally {
      depth -= 1;
    }
  }
  function andExpr() {
    let e = unary();
    while (isWord('and')) { pos += 1; e = { op: 'and', a: e, b: unary() }; }
    return e;
  }
  function orExpr() {
    let e = andExpr();
    while (isWord('or')) { pos += 1; e = { op: 'or', a: e, b: andExpr() }; }
    return e;
  }
  if (toks.length === 0) throw new ODataError('BadRequest', 'Invalid filter clause: empty $filter.');
  const ast = orExpr();
  if (pos !== toks.length) throw new ODataError('BadRequest', `Invalid filter clause: unexpected '${toks[pos].v ?? toks[pos].t}' at token ${pos + 1} in '${text}'.`);
  return ast;
}

// The properties a filter compares, left to right (for Graph's $orderby rule below).
export function filterPaths(ast, out = []) {
  if (!ast) return out;
  if (ast.a) filterPaths(ast.a, out);
  if (ast.b) filterPaths(ast.b, out);
  if (ast.path && !out.includes(ast.path)) out.push(ast.path);
  return out;
}

// Exchange's rule for $filter together with $orderby: every $orderby property must also be
// in the $filter, first and in the same order; otherwise Graph answers 400 InefficientFilter.
export function checkOrderByWithFilter(orderBy, ast) {
  if (!ast || orderBy.length === 0) return;
  const paths = filterPaths(ast);
  orderBy.forEach((o, i) => {
    if (paths[i] !== o.path) {
      throw new ODataError('InefficientFilter', 'The restriction or sort order is too complex for this operation.');
    }
  });
}

// get(entity, path) -> value; strings compare case-insensitively as Exchange does.
export function evalFilter(ast, entity, get) {
  if (!ast) return true;
  switch (ast.op) {
    case 'and': return evalFilter(ast.a, entity, get) && evalFilter(ast.b, entity, get);
    case 'or': return evalFilter(ast.a, entity, get) || evalFilter(ast.b, entity, get);
    case 'not': return !evalFilter(ast.a, entity, get);
    default: break;
  }
  let v = get(entity, ast.path);
  let w = ast.value;
  if (typeof v === 'string') v = v.toLowerCase();
  if (typeof w === 'string') w = w.toLowerCase();
  switch (ast.op) {
    case 'contains': return typeof v === 'string' && v.includes(w);
    case 'startswith': return typeof v === 'string' && v.startsWith(w);
    case 'endswith': return typeof v === 'string' && v.endsWith(w);
    case 'eq': return v === w;
    case 'ne': return v !== w;
    default: break;
  }
  if (v === null || v === undefined || w === null) return false;
  switch (ast.op) {
    case 'gt': return v > w;
    case 'ge': return v >= w;
    case 'lt': return v < w;
    case 'le': return v <= w;
    default: return false;
  }
}

// $search="word" or "subject:word" (KQL, quoted as Graph wants). -> {field|null, term}
export function parseSearch(value) {
  if (value === undefined) return undefined;
  const m = /^"([^"]*)"$/.exec(value.trim());
  if (!m) throw new ODataError('BadRequest', `Syntax error: the $search value must be in double quotes, e.g. $search="subject:report", got '${value}'.`);
  const inner = m[1].trim();
  if (!inner) throw new ODataError('BadRequest', 'The $search query is empty.');
  const field = /^(subject|from|body|to):(.*)$/i.exec(inner);
  if (field) return { field: field[1].toLowerCase(), term: field[2].trim().toLowerCase() };
  if (/^[A-Za-z]+:/.test(inner)) throw new ODataError('BadRequest', `$search: property '${inner.split(':')[0]}' is not searchable here (subject, from, to, body).`);
  return { field: null, term: inner.toLowerCase() };
}
