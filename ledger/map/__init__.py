"""The map of heads (issue 18): each unit's and actor's latest entry, committed by root.

`trie` is the map and its hashing (keys, leaves, nodes, the canonical shape), `proof`
the bytes of a membership or absence proof and their verification. Pure.
"""
