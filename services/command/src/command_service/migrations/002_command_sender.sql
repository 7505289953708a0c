-- A command id is bound to its command's type and sender (the RabbitMQ user_id, which the broker
-- checks): the id reused by another command or another sender is refused, not answered with this
-- command's reply. NULL: the sender said no user_id, or the result was recorded before this column;
-- such a result is bound to no sender (anyone could send under no user_id anyway).
ALTER TABLE command_results ADD COLUMN sender text;
