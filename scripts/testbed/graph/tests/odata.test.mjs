// Pure parts of the fake: the OData query option parser and $filter evaluation.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ODataError, checkOrderByWithFilter, evalFilter, parseFilter, parseOrderBy, parseQuery, parseSearch,
  parseSelect, parseTop,
} from '../lib/odata.mjs';
import { MESSAGE_FILTER_FIELDS as F, MESSAGE_SORTABLE } from '../lib/store.mjs';

const throwsCode = (fn, code, re) => assert.throws(fn, (e) => e instanceof ODataError && e.code === code && (!re || re.test(e.message)));
const get = (m, p) => m[p];

test('parseQuery refuses unknown, disallowed and repeated options', () => {
  assert.deepEqual(parseQuery('$top=5&$select=id', ['$top', '$select']), { $top: '5', $select: 'id' });
  throwsCode(() => parseQuery('$foo=1', ['$top']), 'BadRequest', /\$foo/);
  throwsCode(() => parseQuery('$search="x"', ['$top']), 'BadRequest', /not allowed/);
  throwsCode(() => parseQuery('$top=1&$top=2', ['$top']), 'BadRequest', /more than once/);
  throwsCode(() => parseQuery('top=1', ['$top']), 'BadRequest', /start with/);
  assert.deepEqual(parseQuery('includeHiddenFolders=true', [], ['includeHiddenFolders']), { includeHiddenFolders: 'true' });
});

test('$top bounds', () => {
  assert.equal(parseTop('1000'), 1000);
  throwsCode(() => parseTop('1001'), 'BadRequest', /limit of '1000'/);
  throwsCode(() => parseTop('-1'), 'BadRequest');
  throwsCode(() => parseTop('abc'), 'BadRequest');
});

test('$select checks property names', () => {
  assert.deepEqual(parseSelect('id,subject', ['id', 'subject'], 'T'), ['id', 'subject']);
  throwsCode(() => parseSelect('id,nope', ['id'], 'microsoft.graph.message'), 'RequestBroker--ParseUri', /nope/);
});

test('$filter: the comparisons mailbroker uses, and combinations', () => {
  const msg = { isRead: false, 'from/emailAddress/address': 'Bob@testlab.test', receivedDateTime: Date.parse('2024-02-01T10:00:00Z'), subject: "it's here" };
  const ok = (f) => evalFilter(parseFilter(f, F), msg, get);
  assert.equal(ok('isRead eq false'), true);
  assert.equal(ok('isRead eq true'), false);
  assert.equal(ok("from/emailAddress/address eq 'bob@testlab.test'"), true, 'case-insensitive');
  assert.equal(ok('receivedDateTime ge 2024-02-01T10:00:00Z'), true);
  assert.equal(ok('receivedDateTime lt 2024-02-01T10:00:00Z'), false);
  assert.equal(ok("isRead eq false and receivedDateTime ge 2024-01-01T00:00:00Z and from/emailAddress/address eq 'bob@testlab.test'"), true);
  assert.equal(ok('isRead eq true or (not (isRead eq true))'), true);
  assert.equal(ok("subject eq 'it''s here'"), true, "'' escapes a quote");
  assert.equal(ok("contains(subject,'HERE')"), true);
  assert.equal(ok("startswith(subject,'x')"), false);
});

test('$filter errors name the problem', () => {
  throwsCode(() => parseFilter('nope eq 1', F), 'BadRequest', /nope/);
  throwsCode(() => parseFilter("isRead eq 'yes'", F), 'BadRequest', /incompatible/);
  throwsCode(() => parseFilter('isRead gt true', F), 'BadRequest', /not supported/);
  throwsCode(() => parseFilter("subject eq 'open", F), 'BadRequest', /unterminated/);
  throwsCode(() => parseFilter('isRead eq true and', F), 'BadRequest');
  throwsCode(() => parseFilter('isRead eq true isRead', F), 'BadRequest', /unexpected/);
  throwsCode(() => parseFilter('receivedDateTime ge 2024-13-45T99:00:00Z', F), 'BadRequest');
  throwsCode(() => parseFilter(`${'('.repeat(100)}isRead eq true${')'.repeat(100)}`, F), 'BadRequest', /nested/);
  throwsCode(() => parseFilter('x'.repeat(5000), F), 'BadRequest', /longer/);
  throwsCode(() => parseFilter('', F), 'BadRequest', /empty/);
});

test('$orderby with $filter follows the Exchange rule', () => {
  const ob = parseOrderBy('receivedDateTime desc', MESSAGE_SORTABLE);
  assert.deepEqual(ob, [{ path: 'receivedDateTime', desc: true }]);
  checkOrderByWithFilter(ob, parseFilter('receivedDateTime ge 2024-01-01T00:00:00Z and isRead eq false', F));
  throwsCode(() => checkOrderByWithFilter(ob, parseFilter('isRead eq false and receivedDateTime ge 2024-01-01T00:00:00Z', F)), 'InefficientFilter');
  throwsCode(() => parseOrderBy('bodyPreview', MESSAGE_SORTABLE), 'BadRequest', /bodyPreview/);
  throwsCode(() => parseOrderBy('receivedDateTime sideways', MESSAGE_SORTABLE), 'BadRequest');
});

test('$search wants KQL in double quotes', () => {
  assert.deepEqual(parseSearch('"subject:Report"'), { field: 'subject', term: 'report' });
  assert.deepEqual(parseSearch('"pizza"'), { field: null, term: 'pizza' });
  throwsCode(() => parseSearch('pizza'), 'BadRequest', /double quotes/);
  throwsCode(() => parseSearch('"size:5"'), 'BadRequest', /size/);
});
