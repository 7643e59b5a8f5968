"""Services that live on the bus: order manager, risk checks and kill switch, portfolio."""
