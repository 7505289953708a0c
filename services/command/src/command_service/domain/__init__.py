"""The pure core: deciders per aggregate. No I/O, no async, no clock."""
