"""Case meetings: series, occurrences, agendas, minutes."""
