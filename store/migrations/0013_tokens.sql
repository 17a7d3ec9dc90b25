-- Tokens with roles (issue 14): each a name, a role and the SHA-256 of its secret (the secret
-- itself is shown once, when made, and never kept). The home's token file is the token named
-- `owner`, an admin, registered by the daemon at start.
CREATE TABLE tokens (
    name        VARCHAR PRIMARY KEY,
    role        VARCHAR NOT NULL CHECK (role IN ('viewer', 'operator', 'approver', 'admin')),
    secret_hash VARCHAR NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    created_by  VARCHAR NOT NULL,
    revoked_at  TIMESTAMP,
    revoked_by  VARCHAR
);
