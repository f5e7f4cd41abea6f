"""The Discord adapter: slash commands, buttons, select menus and modals over the engine."""
