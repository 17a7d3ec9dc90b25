"""The work: plain functions over plain inputs that return plain results.

Jobs run in worker processes. They never open the metadata store and never speak HTTP;
large outputs go to the artifact store and only their hashes come back.
"""
