-- dse store schema, version 2: running counters for the screens that show
-- totals, so they never count a million rows on every refresh.
--
-- Both tables are maintained by store_sqlite.c in the same transaction as
-- the rows they count, and are filled here from the rows already present.

-- Receipts per signature and hour (createdAtMs floored to the hour), for
-- dsex/stats:signatureStats: the receipts since T are the full hours after
-- T from here plus, from the receipts index, the part of one hour before.
CREATE TABLE dseReceiptHourly (
    signatureId TEXT NOT NULL,
    hourMs      INTEGER NOT NULL,
    receipts    INTEGER NOT NULL,
    errors      INTEGER NOT NULL,
    PRIMARY KEY (signatureId, hourMs)
) WITHOUT ROWID;

INSERT INTO dseReceiptHourly (signatureId, hourMs, receipts, errors)
SELECT signatureId, createdAtMs - ((createdAtMs % 3600000) + 3600000) % 3600000,
       count(*), sum(resultTag IS 'Error')
FROM receipts
WHERE signatureId IS NOT NULL
GROUP BY 1, 2;

-- Examples per signature, split and review status ('' when absent), for
-- dsex/examples:counts and the signature stats.
CREATE TABLE dseExampleCounts (
    signatureId  TEXT NOT NULL,
    split        TEXT NOT NULL,
    reviewStatus TEXT NOT NULL,
    n            INTEGER NOT NULL,
    PRIMARY KEY (signatureId, split, reviewStatus)
) WITHOUT ROWID;

INSERT INTO dseExampleCounts (signatureId, split, reviewStatus, n)
SELECT signatureId, coalesce(split, ''), coalesce(reviewStatus, ''), count(*)
FROM dseExamples
GROUP BY 1, 2, 3;

-- Errors (or successes) of one compiled_id: the canary pane's filter.  With
-- only (signatureId, compiled_id, createdAtMs) a rare combination would be
-- found by testing every receipt of that compiled_id.
CREATE INDEX receipts_by_signatureId_compiled_id_resultTag_createdAtMs
    ON receipts (signatureId, compiled_id, resultTag, createdAtMs);
