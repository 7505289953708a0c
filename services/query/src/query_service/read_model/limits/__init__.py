"""Where FerretDB v1 (this project's development and CI stand-in for MongoDB) forced a shape: one
module per limit, each with its measurement and what a MongoDB deployment would do instead.

- whole_document_updates: an update reads, changes and rewrites the whole document, with nothing to
  stop a second writer in between, so ``$inc`` can hand one number out twice: numbers are claimed by
  unique inserts instead. (MongoDB: one atomic ``find_one_and_update`` with ``$inc``.)
- equality_filters: only equality filters reach the database (no range, sort or limit), so a list
  pages by numbered buckets of layout.BUCKET_SIZE. (MongoDB: an index and a range with sort and
  limit.)
- no_decimal128: Decimal128 values break the connection, so money is stored as whole minor units.
  (MongoDB: Decimal128.)
- bulk_writes: a bulk write holds a PostgreSQL connection per statement until it ends, so bulk
  writes go in batches of 16. (MongoDB: one bulk write.)

tests/integration/test_ferretdb_limits.py shows each limit on the server the tests run against, and
passes on MongoDB too (there it shows that the workaround is not needed).
"""
