"""How the bus fails: a handler's transient failure, an unconfirmed delivery, a message too large."""

from __future__ import annotations


class TransientError(Exception):
    """Raised by a handler when the failure is not the message's fault (a backend is down).

    The consumer then rewinds and retries the batch later instead of counting attempts towards
    the dead-letter topic, and commits nothing meanwhile.
    """


class DeliveryError(Exception):
    """The broker did not confirm a message in time; nothing upstream may be told it was accepted."""


class MessageTooLarge(Exception):
    """A message is larger than Kafka accepts: the message's own problem, not the broker's (never retried)."""


class SendFailed(DeliveryError):
    """A delivery failed on a live client: the client is replaced, and the send may be tried again."""


class Stopping(Exception):
    """Raised by `Consumer.between` once a stop was asked: the handler ends its batch where it is.

    The consumer commits what the handler reported done through `between` and nothing else; the
    rest of the batch is polled again by whoever owns the partitions next.
    """
