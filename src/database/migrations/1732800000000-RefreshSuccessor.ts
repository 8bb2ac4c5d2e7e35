import { MigrationInterface, QueryRunner, TableColumn } from 'typeorm';

/**
 * The refresh-token reuse grace (REFRESH_REUSE_GRACE_SECONDS): a spent token's row keeps the pair
 * it was traded for, sealed under a key only the holder of that token can derive. NULL for every
 * existing row and whenever the grace is off.
 */
export class RefreshSuccessor1732800000000 implements MigrationInterface {
  name = 'RefreshSuccessor1732800000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumn('refresh_tokens', new TableColumn({ name: 'successor', type: 'text', isNullable: true }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropColumn('refresh_tokens', 'successor');
  }
}
