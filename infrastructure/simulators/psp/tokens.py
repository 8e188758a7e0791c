"""The provider simulator's test tokens: what a payment token in an authorization asks it to do.

Like the test card numbers of a real provider's sandbox, each token makes one outcome
reproducible, so a test (or the demo) can pick the failure it wants to exercise:

  tok_ok                    approved
  tok_decline               declined ("card declined")
  tok_decline_<reason>      declined with that reason (tok_decline_insufficient_funds)
  tok_error_before_charge   HTTP 503 once per idempotency key, nothing recorded; then approved
  tok_timeout_after_charge  approved and recorded, then the first answer is lost: it is held
                            until the client gives up and disconnects; a retry is answered
  tok_slow                  approved, answered after SLOW_ANSWER_S (below the clients' timeout)

Any other token is approved, as a real card would be.
"""

OK = "tok_ok"
DECLINE = "tok_decline"
ERROR_BEFORE_CHARGE = "tok_error_before_charge"
TIMEOUT_AFTER_CHARGE = "tok_timeout_after_charge"
SLOW = "tok_slow"

SLOW_ANSWER_S = 1.0


def decline_reason(token: str) -> str | None:
    """Why the card is declined, or None if it is not."""
    if token == DECLINE:
        return "card declined"
    if token.startswith(f"{DECLINE}_"):
        return token.removeprefix(f"{DECLINE}_").replace("_", " ")
    return None
