"""wirewatch ingest: agency copy, IPTC 7901/ANPA, ninjs, NewsML-G2/1.x, NITF and feeds, normalised onto Kafka.

Documents arrive by HTTP push (`POST /v1/stories`), a drop folder or polled feeds; every path goes
through `pipeline.Ingestor`: parse (`sources/`), normalise (`normalize`), admit to the durable
ledger (`ledger`), publish and wait for the broker's confirmation. The re-publisher sends again
what the index has not confirmed with a receipt, so a broker that loses everything loses nothing.
"""
