claude mcp add --scope user --transport http memoryd http://127.0.0.1:8765/mcp --header 'Authorization: Bearer <TOKEN>'
