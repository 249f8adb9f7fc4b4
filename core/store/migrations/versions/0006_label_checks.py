"""label_checks: people's checks of a dataset version's labels (right, or wrong and what it should be)

Revision ID: 0006_label_checks
Revises: 0005_corrections
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_label_checks"
down_revision = "0005_corrections"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "label_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("split", sa.String(length=16), nullable=False),
        sa.Column("old_value", sa.JSON(), nullable=False),
        sa.Column("new_value", sa.JSON(), nullable=True),
        sa.Column("reviewer", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dataset_id", "row", "reviewer", name="uq_label_checks_dataset_row_reviewer"),
    )
    with op.batch_alter_table("label_checks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_label_checks_dataset_id"), ["dataset_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("label_checks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_label_checks_dataset_id"))
    op.drop_table("label_checks")
