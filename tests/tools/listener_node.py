"""A small test node for the launcher: prints what it hears on ``heard`` (std_msgs/String).

Parameters: ``expect`` (0 = forever): exit after that many messages. Prints ``heard: DATA`` for the
first three and ``listener got N`` at the end. Command line as ``talker_node``.
"""

from __future__ import annotations

from deepmimic_transport.messages import std_msgs
from talker_node import make_node


def main(args: list[str] | None = None) -> None:
    node, options = make_node("listener", args)
    expect = int(node.declare_parameter("expect", 0))
    heard = []

    def on_message(msg: std_msgs.String) -> None:
        heard.append(msg.data)
        if len(heard) <= 3:
            print(f"heard: {msg.data}", flush=True)

    node.create_subscription(std_msgs.String, "heard", on_message, "reliable")
    print(f"listener {node.full_name} on {node.resolve_name('heard')}", flush=True)
    try:
        node.spin(until=lambda: bool(expect) and len(heard) >= expect, timeout_s=options.seconds)
    except KeyboardInterrupt:
        pass
    finally:
        node.shutdown()
    print(f"listener got {len(heard)}", flush=True)


if __name__ == "__main__":
    main()
