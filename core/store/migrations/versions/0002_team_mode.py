"""team mode: who made what, where a run trains, the workers table

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("host", sa.String(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("pid_started", sa.Float(), nullable=True))
        batch.add_column(sa.Column("device_class", sa.String(8), nullable=False, server_default="any"))
        batch.add_column(sa.Column("processes", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("created_by", sa.String(200), nullable=False, server_default=""))
    for table in ("datasets", "reviews"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("created_by", sa.String(200), nullable=False, server_default=""))
    op.create_table(
        "workers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("pid_started", sa.Float(), nullable=True),
        sa.Column("slots", sa.Integer(), nullable=False),
        sa.Column("gpus", sa.JSON(), nullable=False),
        sa.Column("device_class", sa.String(8), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=False),
        sa.Column("stopped_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_workers_heartbeat_at", "workers", ["heartbeat_at"])


def downgrade() -> None:
    op.drop_index("ix_workers_heartbeat_at", table_name="workers")
    op.drop_table("workers")
    for table in ("datasets", "reviews"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("created_by")
    with op.batch_alter_table("runs") as batch:
        for column in ("created_by", "processes", "device_class", "pid_started", "host"):
            batch.drop_column(column)
