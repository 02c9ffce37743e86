"""Speed and scale measurements of LinkPay Desk, with their own data generator."""
