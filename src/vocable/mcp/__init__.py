"""MCP tool servers: the records an agent keeps (``service``) and the client that
reaches them under the outbound rules (``client``).

Every connection to an MCP server is checked and pinned by ``vocable.outbound``: the
URL is checked when it is saved, and every HTTP request (including each redirect hop
the MCP SDK follows) is checked again and sent only to an address that passed.
"""
