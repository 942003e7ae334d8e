-- tests/store_to_v9.sql: a store of schema 16 made back into schema 9, for the tests that open an
-- older store (tests/e2e, tests/cli/verify.sh, tests/deploy; tests/unit/test_rt_service.c keeps
-- the same statements as TO_VERSION_15, TO_VERSION_14, TO_VERSION_13, TO_VERSION_12, TO_VERSION_11 and
-- TO_VERSION_9). Version 15 kept events in a table of their own, keyed by EventId, and numbered
-- operations 0, 1, ... in start order (16: one table, keyed in the order rows were added). Version 14 indexed every execution in executions_status, executions_offset,
-- executions_root and executions_parent (15: only the running ones, or those with a parent). Version
-- 13 kept timers in a rowid table beside a UNIQUE index of its key. Version 12 had no
-- operations.outside and every operation in operations_change. Version 11 kept every token it issued
-- in tokens (the live one included) and had no executions.token_count nor meta's token_key. Version 9 kept operations, events and tokens in rowid
-- tables keyed by the execution's id with an index of each key, flagged the live token in its
-- tokens row and had no executions.live_token or executions.no.
CREATE TABLE ops15(k INTEGER PRIMARY KEY, op_id TEXT NOT NULL, change_seq INTEGER NOT NULL,
  type TEXT, status TEXT, json TEXT NOT NULL, outside INTEGER NOT NULL DEFAULT 1,
  exec_no INTEGER AS (k >> 32), start_seq INTEGER AS (k & 4294967295));
INSERT INTO ops15(k, op_id, change_seq, type, status, json, outside)
  SELECT (k >> 32) * 4294967296 + ROW_NUMBER() OVER (PARTITION BY k >> 32 ORDER BY k) - 1,
  op_id, change_seq, type, status, json, outside FROM operations WHERE op_id IS NOT NULL;
CREATE TABLE ev15(k INTEGER PRIMARY KEY, json TEXT NOT NULL,
  exec_no INTEGER AS (k >> 32), event_id INTEGER AS (k & 4294967295));
INSERT INTO ev15(k, json) SELECT (k >> 32) * 4294967296 + event_id, json FROM operations WHERE op_id IS NULL;
DROP TABLE operations; ALTER TABLE ops15 RENAME TO operations; ALTER TABLE ev15 RENAME TO events;
CREATE UNIQUE INDEX operations_id ON operations(exec_no, op_id);
CREATE INDEX operations_change ON operations(exec_no, change_seq) WHERE outside=1;
DROP INDEX executions_status; CREATE INDEX executions_status ON executions(status, start_ms);
DROP INDEX executions_offset; CREATE INDEX executions_offset ON executions(status, clock_offset_ms);
DROP INDEX executions_root; CREATE INDEX executions_root ON executions(root_arn, status);
DROP INDEX executions_parent; CREATE INDEX executions_parent ON executions(parent_arn, parent_op);
CREATE TABLE tim13(exec_id TEXT NOT NULL, op_id TEXT NOT NULL, kind TEXT NOT NULL,
  due_ms REAL NOT NULL, PRIMARY KEY(exec_id, op_id, kind));
INSERT INTO tim13 SELECT exec_id, op_id, kind, due_ms FROM timers;
DROP TABLE timers; ALTER TABLE tim13 RENAME TO timers;
CREATE INDEX timers_due ON timers(due_ms);
DROP INDEX operations_change;
ALTER TABLE operations DROP COLUMN outside;
CREATE INDEX operations_change ON operations(exec_no, change_seq);
INSERT OR IGNORE INTO tokens(token, exec_no, issued_ms) SELECT live_token, no, 0 FROM executions
  WHERE live_token IS NOT NULL;
ALTER TABLE executions DROP COLUMN token_count;
DELETE FROM meta WHERE key='token_key';
CREATE TABLE ops9(exec_id TEXT NOT NULL, op_id TEXT NOT NULL, start_seq INTEGER NOT NULL,
  change_seq INTEGER NOT NULL, type TEXT, status TEXT, json TEXT NOT NULL, PRIMARY KEY(exec_id, op_id));
INSERT INTO ops9 SELECT x.id, o.op_id, o.start_seq, o.change_seq, o.type, o.status, o.json
  FROM operations o JOIN executions x ON x.no=o.exec_no;
DROP TABLE operations; ALTER TABLE ops9 RENAME TO operations;
CREATE INDEX operations_start ON operations(exec_id, start_seq);
CREATE INDEX operations_change ON operations(exec_id, change_seq);
CREATE TABLE ev9(exec_id TEXT NOT NULL, event_id INTEGER NOT NULL, json TEXT NOT NULL,
  PRIMARY KEY(exec_id, event_id));
INSERT INTO ev9 SELECT x.id, v.event_id, v.json FROM events v JOIN executions x ON x.no=v.exec_no;
DROP TABLE events; ALTER TABLE ev9 RENAME TO events;
CREATE TABLE tok9(token TEXT PRIMARY KEY, exec_id TEXT NOT NULL, issued_ms REAL, live INTEGER NOT NULL);
INSERT INTO tok9 SELECT t.token, x.id, t.issued_ms, x.live_token IS t.token
  FROM tokens t JOIN executions x ON x.no=t.exec_no;
DROP TABLE tokens; ALTER TABLE tok9 RENAME TO tokens;
CREATE INDEX tokens_exec ON tokens(exec_id);
CREATE INDEX tokens_live ON tokens(exec_id) WHERE live=1;
ALTER TABLE executions DROP COLUMN live_token;
DROP INDEX executions_no;
ALTER TABLE executions DROP COLUMN no;
PRAGMA user_version=9;
