"""What the saga does, as data: steps of commands, decided without I/O and run by the saga.

A step sends one command. It succeeds when the command is applied (or answered again from
the command log) and, if `expect` is set, answers with that status. `then` runs only after
a success, `otherwise` only after a refusal or another status, so "reserve; if that worked
advance the order, else fail it" is one value a test can compare.
"""

from dataclasses import dataclass
from typing import Any, TypeVar

from domain.commands import Command
from domain.ids import caused_command_id
from infrastructure.contracts import IntegrationEvent

C = TypeVar("C", bound=Command)


@dataclass(frozen=True)
class Step:
    command: Command
    expect: str = ""
    then: tuple["Step", ...] = ()
    otherwise: tuple["Step", ...] = ()


def chain(*commands: Command) -> Step:
    """Send the commands one after another, stopping at the first that does not succeed."""
    step = Step(commands[-1])
    for command in reversed(commands[:-1]):
        step = Step(command, then=(step,))
    return step


def caused(event: IntegrationEvent, command_type: type[C], **fields: Any) -> C:
    """The command `event` causes. Its id derives from the event, so a redelivered event issues
    the same command id and the command log answers it; it carries the flow's correlation
    id and names the event as its cause."""
    return command_type(
        command_id=caused_command_id(event.event_id, command_type.__name__),
        correlation_id=event.correlation_id,
        causation_id=event.event_id,
        **fields,
    )
