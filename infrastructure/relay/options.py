"""How one relay is timed, and the rule that keeps a healthy leader from being deposed."""

from dataclasses import dataclass


@dataclass(frozen=True)
class RelayOptions:
    """Timing of one relay. The lease must outlast the longest silence of a healthy leader
    (one send that times out plus a backoff, or one heartbeat interval): `check_lease`."""

    batch_size: int = 500
    poll_interval_s: float = 1.0  # the fallback when no NOTIFY arrives
    heartbeat_interval_s: float = 3.0  # how often an idle leader renews its lease
    lease_s: float = 15.0  # a leader silent for longer is deposed by a standby
    standby_retry_s: float = 1.0  # how often a standby tries to take the lead
    backoff_s: float = 0.25  # after a failed batch, doubling per failure in a row ...
    max_backoff_s: float = 2.0  # ... up to this
    audit_interval_s: float = 5.0  # how often the leader checks that the broker kept its records
    # After a batch smaller than `batch_size`, wait this long before reading the next: a
    # burst of commits then goes out as one batch (one read, one send, one saved position)
    # instead of one each. The first event after a quiet spell goes out at once.
    linger_s: float = 0.01


def check_lease(options: RelayOptions, ack_timeout_s: float) -> None:
    """A healthy leader renews before each send, so its longest silence is one send that
    times out plus a backoff; a shorter lease would depose relays merely waiting for acks."""
    longest_silence = max(ack_timeout_s + options.max_backoff_s, options.heartbeat_interval_s)
    if options.lease_s <= longest_silence:
        raise ValueError(
            f"relay lease {options.lease_s}s must exceed {longest_silence}s "
            "(Kafka delivery timeout + ack margin + backoff, or the heartbeat interval)"
        )
