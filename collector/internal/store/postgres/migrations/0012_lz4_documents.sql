-- 0012_lz4_documents: the large documents (a report's drift, a baseline's
-- snapshot, content blobs) are compressed with lz4 instead of pglz when
-- the server has it (PostgreSQL 14 and later, built with lz4): pglz took
-- about a tenth of the server's time at each report ingest. Rows already
-- stored keep their compression; reading either needs nothing new.
DO $$
BEGIN
    IF current_setting('server_version_num')::integer >= 140000 THEN
        ALTER TABLE reports ALTER COLUMN drift SET COMPRESSION lz4;
        ALTER TABLE baselines ALTER COLUMN snapshot SET COMPRESSION lz4;
        ALTER TABLE blobs ALTER COLUMN content SET COMPRESSION lz4;
    END IF;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 is not available on this server: documents stay compressed with pglz';
END
$$;
