-- dse store schema, version 1.
--
-- Tables and column names follow the reference data model (dse-spec.md §1.1
-- receipts, §1.2 dse*).  Where the reference enforces uniqueness by reading
-- through an index before writing, we declare a UNIQUE constraint instead.
-- JSON values are stored as canonical JSON text.  Every table has an
-- INTEGER PRIMARY KEY `id` (an alias of the rowid, stable across VACUUM)
-- that breaks ties between rows with the same createdAtMs, so keyset paging
-- on (createdAtMs) is total.  No custom collations or functions: the
-- sqlite3 shell must be able to read and check this file.
--
-- Applied by store_sqlite.c inside one transaction, which then sets
-- PRAGMA user_version to this file's number.

-- One row: the change counter, bumped by every committed mutation, so a
-- remote poller (dsex/meta:changeCounter) can detect changes cheaply.
CREATE TABLE dseMeta (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    changeCounter INTEGER NOT NULL DEFAULT 0
);
INSERT INTO dseMeta (id, changeCounter) VALUES (1, 0);

-- Signature catalog (catalog.h): the signature JSON by id.
CREATE TABLE dseSignatures (
    id          INTEGER PRIMARY KEY,
    signatureId TEXT NOT NULL UNIQUE,
    json        TEXT NOT NULL,
    createdAtMs INTEGER NOT NULL,
    updatedAtMs INTEGER NOT NULL
);

-- Receipts (reference §1.1).  The reference's columns plus values copied out
-- of the receipt JSON so the console can filter and page without parsing
-- JSON.  receiptId is UNIQUE so a retried receipt is stored and counted once
-- (several NULL receiptIds are allowed, as SQL UNIQUE permits).
CREATE TABLE receipts (
    id                 INTEGER PRIMARY KEY,
    threadId           TEXT NOT NULL,
    runId              TEXT NOT NULL,
    kind               TEXT NOT NULL CHECK (kind IN ('model', 'tool', 'dse.predict')),
    json               TEXT NOT NULL,
    receiptId          TEXT UNIQUE,
    signatureId        TEXT,
    compiled_id        TEXT,
    createdAtMs        INTEGER NOT NULL,
    strategyId         TEXT,
    resultTag          TEXT,
    errorName          TEXT,
    durationMs         REAL,
    rlmTraceBlobId     TEXT,
    rlmTraceEventCount INTEGER
);
CREATE INDEX receipts_by_createdAtMs ON receipts (createdAtMs);
CREATE INDEX receipts_by_signatureId_createdAtMs ON receipts (signatureId, createdAtMs);
CREATE INDEX receipts_by_signatureId_resultTag_createdAtMs
    ON receipts (signatureId, resultTag, createdAtMs);
CREATE INDEX receipts_by_signatureId_compiled_id_createdAtMs
    ON receipts (signatureId, compiled_id, createdAtMs);
CREATE INDEX receipts_by_signatureId_strategyId_createdAtMs
    ON receipts (signatureId, strategyId, createdAtMs);
CREATE INDEX receipts_by_threadId_createdAtMs ON receipts (threadId, createdAtMs);

CREATE TABLE dseArtifacts (
    id          INTEGER PRIMARY KEY,
    signatureId TEXT NOT NULL,
    compiled_id TEXT NOT NULL,
    json        TEXT NOT NULL,
    createdAtMs INTEGER NOT NULL,
    UNIQUE (signatureId, compiled_id)
);
CREATE INDEX dseArtifacts_by_signatureId_createdAtMs
    ON dseArtifacts (signatureId, createdAtMs);

CREATE TABLE dseActiveArtifacts (
    id          INTEGER PRIMARY KEY,
    signatureId TEXT NOT NULL UNIQUE,
    compiled_id TEXT NOT NULL,
    updatedAtMs INTEGER NOT NULL
);

CREATE TABLE dseActiveArtifactHistory (
    id             INTEGER PRIMARY KEY,
    signatureId    TEXT NOT NULL,
    action         TEXT NOT NULL CHECK (action IN ('set', 'clear', 'rollback')),
    fromCompiledId TEXT,
    toCompiledId   TEXT,
    reason         TEXT,
    actorUserId    TEXT,
    createdAtMs    INTEGER NOT NULL
);
CREATE INDEX dseActiveArtifactHistory_by_signatureId_createdAtMs
    ON dseActiveArtifactHistory (signatureId, createdAtMs);

-- sortKey = collate_sort_key(exampleId): a byte string whose memcmp order
-- is the reference's localeCompare order, so listing and keyset paging in
-- that order walk an index.  It embeds exampleId, so it is unique per
-- signature.  reviewStatus is meta.review.status when it is "accepted" or
-- "rejected", for the labeling counts.
CREATE TABLE dseExamples (
    id           INTEGER PRIMARY KEY,
    signatureId  TEXT NOT NULL,
    exampleId    TEXT NOT NULL,
    sortKey      BLOB NOT NULL,
    inputJson    TEXT NOT NULL,
    expectedJson TEXT NOT NULL,
    split        TEXT,
    tags         TEXT,
    source       TEXT,
    meta         TEXT,
    reviewStatus TEXT,
    createdAtMs  INTEGER NOT NULL,
    updatedAtMs  INTEGER NOT NULL,
    UNIQUE (signatureId, exampleId)
);
CREATE INDEX dseExamples_by_signatureId_sortKey ON dseExamples (signatureId, sortKey);
CREATE INDEX dseExamples_by_signatureId_split_sortKey
    ON dseExamples (signatureId, split, sortKey);
CREATE INDEX dseExamples_by_signatureId_split_reviewStatus
    ON dseExamples (signatureId, split, reviewStatus);

CREATE TABLE dseCompileReports (
    id          INTEGER PRIMARY KEY,
    signatureId TEXT NOT NULL,
    jobHash     TEXT NOT NULL,
    datasetId   TEXT NOT NULL,
    datasetHash TEXT NOT NULL,
    compiled_id TEXT NOT NULL,
    json        TEXT NOT NULL,
    createdAtMs INTEGER NOT NULL,
    UNIQUE (signatureId, jobHash, datasetHash)
);
CREATE INDEX dseCompileReports_by_signatureId_createdAtMs
    ON dseCompileReports (signatureId, createdAtMs);

CREATE TABLE dseEvalReports (
    id                     INTEGER PRIMARY KEY,
    signatureId            TEXT NOT NULL,
    evalHash               TEXT NOT NULL,
    compiled_id            TEXT NOT NULL,
    datasetId              TEXT NOT NULL,
    datasetHash            TEXT NOT NULL,
    rewardId               TEXT NOT NULL,
    rewardVersion          REAL NOT NULL,
    split                  TEXT,
    selectedExampleIdsHash TEXT,
    n                      REAL,
    json                   TEXT NOT NULL,
    createdAtMs            INTEGER NOT NULL,
    UNIQUE (signatureId, evalHash)
);
CREATE INDEX dseEvalReports_by_signatureId_compiled_id_createdAtMs
    ON dseEvalReports (signatureId, compiled_id, createdAtMs);
CREATE INDEX dseEvalReports_by_signatureId_createdAtMs
    ON dseEvalReports (signatureId, createdAtMs);

-- At most one canary per signature; stopping deletes the row.
CREATE TABLE dseCanaries (
    id                  INTEGER PRIMARY KEY,
    signatureId         TEXT NOT NULL UNIQUE,
    control_compiled_id TEXT NOT NULL,
    canary_compiled_id  TEXT NOT NULL,
    rolloutPct          INTEGER NOT NULL CHECK (rolloutPct BETWEEN 0 AND 100),
    salt                TEXT NOT NULL,
    enabled             INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    okCount             INTEGER NOT NULL,
    errorCount          INTEGER NOT NULL,
    minSamples          INTEGER NOT NULL,
    maxErrorRate        REAL NOT NULL,
    createdAtMs         INTEGER NOT NULL,
    updatedAtMs         INTEGER NOT NULL
);

CREATE TABLE dseCanaryHistory (
    id                  INTEGER PRIMARY KEY,
    signatureId         TEXT NOT NULL,
    action              TEXT NOT NULL CHECK (action IN ('start', 'stop', 'auto_stop', 'update')),
    control_compiled_id TEXT,
    canary_compiled_id  TEXT,
    rolloutPct          INTEGER,
    okCount             INTEGER,
    errorCount          INTEGER,
    reason              TEXT,
    actorUserId         TEXT,
    createdAtMs         INTEGER NOT NULL
);
CREATE INDEX dseCanaryHistory_by_signatureId_createdAtMs
    ON dseCanaryHistory (signatureId, createdAtMs);

CREATE TABLE dseBlobs (
    id          INTEGER PRIMARY KEY,
    threadId    TEXT NOT NULL,
    runId       TEXT NOT NULL,
    blobId      TEXT NOT NULL,
    mime        TEXT,
    text        TEXT NOT NULL,
    size        INTEGER NOT NULL,
    createdAtMs INTEGER NOT NULL,
    UNIQUE (threadId, runId, blobId)
);

CREATE TABLE dseVarSpace (
    id          INTEGER PRIMARY KEY,
    threadId    TEXT NOT NULL,
    runId       TEXT NOT NULL,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('json', 'blob')),
    json        TEXT,
    approxChars INTEGER,
    blob        TEXT,
    createdAtMs INTEGER NOT NULL,
    updatedAtMs INTEGER NOT NULL,
    UNIQUE (threadId, runId, name)
);

CREATE TABLE dseOpsRuns (
    id           INTEGER PRIMARY KEY,
    runId        TEXT NOT NULL UNIQUE,
    status       TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed')),
    startedAtMs  INTEGER NOT NULL,
    endedAtMs    INTEGER,
    commitSha    TEXT,
    baseUrl      TEXT,
    actorUserId  TEXT,
    signatureIds TEXT,
    notes        TEXT,
    links        TEXT,
    summaryJson  TEXT,
    createdAtMs  INTEGER NOT NULL,
    updatedAtMs  INTEGER NOT NULL
);
CREATE INDEX dseOpsRuns_by_createdAtMs ON dseOpsRuns (createdAtMs);

CREATE TABLE dseOpsRunEvents (
    id          INTEGER PRIMARY KEY,
    runId       TEXT NOT NULL,
    tsMs        INTEGER NOT NULL,
    level       TEXT NOT NULL CHECK (level IN ('info', 'warn', 'error')),
    phase       TEXT,
    message     TEXT NOT NULL,
    json        TEXT,
    createdAtMs INTEGER NOT NULL
);
CREATE INDEX dseOpsRunEvents_by_runId_createdAtMs ON dseOpsRunEvents (runId, createdAtMs);
-- Insertion order within a run, for the event timeline (x_events_page).
CREATE INDEX dseOpsRunEvents_by_runId ON dseOpsRunEvents (runId);

-- LM response cache (lm.h): key = hash of the canonical request.
CREATE TABLE dseLmCache (
    key         TEXT PRIMARY KEY,
    model       TEXT NOT NULL,
    response    TEXT NOT NULL,
    createdAtMs INTEGER NOT NULL,
    hits        INTEGER NOT NULL DEFAULT 0
);
