-- 0011_item_history_keys: drift events and ticket links no longer carry a
-- foreign key to drift_items. Each report writes an event per change, and
-- the check behind that key ran a lookup of its own for every event; a
-- lookup planned while the table was small kept scanning a whole tenant's
-- items through the widest index for as long as the connection lived.
-- The store writes an item's events and links in the transaction that
-- writes the item, and never deletes items, so the key added nothing the
-- store does not already keep.

ALTER TABLE drift_events DROP CONSTRAINT IF EXISTS drift_events_tenant_id_item_id_fkey;
ALTER TABLE drift_tickets DROP CONSTRAINT IF EXISTS drift_tickets_tenant_id_item_id_fkey;
