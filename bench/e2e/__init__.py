"""The end-to-end benchmark: the whole system of `orders run`, driven open-loop through its
HTTP API at a fixed offered rate, measured from what the servers themselves recorded.

Client clocks say when a request was answered; only the event stores say when an order was
placed, when each step happened and when it completed. So every latency, hop and throughput
figure here comes from the stored events' timestamps, and CPU comes from the kernel's
accounting of each process. `python -m bench.e2e --help` has the usage; bench/README.md
says what each figure means.
"""
