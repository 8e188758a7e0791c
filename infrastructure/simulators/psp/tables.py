"""The provider simulator's tables and the SQL the ledger runs on them (`ledger.py`).

`operations` has one row per idempotency key: every authorization, and every capture, void
and refund, approved or refused, with the correlation id its request came with (which its
webhooks send back); `orders check` reads it with plain SQL and counts only approved rows.
`failed_requests` remembers which keys had their one simulated server error.
"""

from infrastructure.simulators.psp import webhooks

DDL = [  # the defaults keep a row inserted by hand (a test's rogue charge) simple to write
    """CREATE TABLE IF NOT EXISTS {schema}.operations (
        idempotency_key text PRIMARY KEY,
        operation text NOT NULL,
        order_id text NOT NULL DEFAULT '',
        amount_cents bigint NOT NULL,
        currency text NOT NULL DEFAULT '',
        status text NOT NULL,
        reference text NOT NULL,
        reason text NOT NULL DEFAULT '',
        fingerprint text NOT NULL DEFAULT '',
        answers_to_lose int NOT NULL DEFAULT 0,
        recorded_at timestamptz NOT NULL DEFAULT now(),
        authorization_ref text NOT NULL DEFAULT '',
        refusal text NOT NULL DEFAULT '',
        correlation_id text NOT NULL DEFAULT '')""",
    # a ledger created before refusals, then correlation ids, were recorded
    "ALTER TABLE {schema}.operations ADD COLUMN IF NOT EXISTS authorization_ref text NOT NULL DEFAULT ''",
    "ALTER TABLE {schema}.operations ADD COLUMN IF NOT EXISTS refusal text NOT NULL DEFAULT ''",
    "ALTER TABLE {schema}.operations ADD COLUMN IF NOT EXISTS correlation_id text NOT NULL DEFAULT ''",
    "CREATE INDEX IF NOT EXISTS operations_order_id ON {schema}.operations (order_id)",
    "CREATE INDEX IF NOT EXISTS operations_reference ON {schema}.operations (reference)",
    """CREATE INDEX IF NOT EXISTS operations_authorization_ref ON {schema}.operations (authorization_ref)
        WHERE authorization_ref <> ''""",
    """CREATE TABLE IF NOT EXISTS {schema}.failed_requests (
        idempotency_key text PRIMARY KEY,
        failed_at timestamptz NOT NULL DEFAULT now())""",
    webhooks.DDL,
    webhooks.DUE_INDEX,
]
CONFLICT = " ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key"
AUTHORIZE = (
    "INSERT INTO {table} (idempotency_key, operation, order_id, amount_cents, currency, status, reference,"
    " reason, fingerprint, answers_to_lose, correlation_id) VALUES (%(key)s, 'authorize', %(order_id)s,"
    " %(cents)s, %(currency)s, %(status)s, %(reference)s, %(reason)s, %(fingerprint)s, %(lose)s,"
    " %(correlation_id)s)" + CONFLICT
)
FOLLOW_UP = (  # capture, void, refund: filed under the authorization's order, approved or refused
    "INSERT INTO {table} (idempotency_key, operation, order_id, amount_cents, currency, status, reference,"
    " reason, fingerprint, answers_to_lose, authorization_ref, refusal, correlation_id) VALUES (%(key)s,"
    " %(operation)s, %(order_id)s, %(cents)s, %(currency)s, %(status)s, %(reference)s, %(reason)s,"
    " %(fingerprint)s, 0, %(authorization)s, %(refusal)s, %(correlation_id)s)" + CONFLICT
)
HOLD = (  # the row lock that serializes every follow-up of one authorization
    "SELECT order_id, amount_cents, currency FROM {table}"
    " WHERE reference = %s AND operation = 'authorize' AND status = 'approved' FOR UPDATE"
)
FOLLOWED = "SELECT operation, amount_cents FROM {table} WHERE authorization_ref = %s AND status = 'approved'"
FAIL_FIRST = (  # one failure per key, and none once the key has an operation
    "INSERT INTO {failed} (idempotency_key) SELECT %(key)s"
    " WHERE NOT EXISTS (SELECT FROM {table} WHERE idempotency_key = %(key)s)"
    " ON CONFLICT DO NOTHING RETURNING idempotency_key"
)
