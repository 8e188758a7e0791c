"""The outbox relay: each context's notification log, published to Kafka at least once.

`Relay` follows one context's log and publishes it (relay.py); `Leadership` decides which
relay of a context is active and fences the position it records (leadership.py);
`Publisher` sends a batch and confirms every ack (publisher.py); `BrokerAudit` notices a
broker that lost acked records, so the relay publishes again from the start (audit.py);
`Wakeup` turns the recorder's NOTIFY into a prompt read (wakeup.py); `RelayOptions` times
it all (options.py).
"""

from infrastructure.relay.leadership import Leadership, LeadershipLostError, advisory_key
from infrastructure.relay.options import RelayOptions
from infrastructure.relay.publisher import Publisher, PublishError
from infrastructure.relay.relay import NotificationLog, Relay
from infrastructure.relay.wakeup import Wakeup

__all__ = [
    "Leadership",
    "LeadershipLostError",
    "NotificationLog",
    "PublishError",
    "Publisher",
    "Relay",
    "RelayOptions",
    "Wakeup",
    "advisory_key",
]
