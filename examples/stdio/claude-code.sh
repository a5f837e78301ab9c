claude mcp add --scope user memoryd -- memoryd serve --agent claude-code
