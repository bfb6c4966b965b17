-- Agents with real rights (issue 19): an agent grant carries a fixed set of permissions, checked
-- in every path that acts for an enterprise (identity::enterprises::Permission):
--   manage            grant and revoke other agents;
--   licences:read     see the enterprise's licences;
--   licences:share    share them through an expiring link;
--   licences:consent  let a portal read them on the enterprise's behalf.
-- Space-separated, in that order. The legal representative holds all four. Grants made before this
-- migration could read, share and consent (every agent could): they keep exactly that.
-- Keep migrations/sqlite and migrations/postgres in step.
ALTER TABLE agent_grants ADD COLUMN permissions TEXT NOT NULL DEFAULT 'licences:read';
UPDATE agent_grants SET permissions = 'licences:read licences:share licences:consent';

-- Reads an agent makes for an enterprise go into the enterprise's access log, naming the agent.
ALTER TABLE licence_access_log ADD COLUMN agent_id TEXT;
