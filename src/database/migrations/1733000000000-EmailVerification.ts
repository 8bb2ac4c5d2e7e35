import { MigrationInterface, QueryRunner, TableColumn } from 'typeorm';

/** Whether a user has proved their address; existing accounts start unverified. */
export class EmailVerification1733000000000 implements MigrationInterface {
  name = 'EmailVerification1733000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    // SQLite keeps booleans as 0/1, and the entity's default is written that way there.
    const no = queryRunner.connection.options.type === 'postgres' ? 'false' : '0';
    await queryRunner.addColumn('users', new TableColumn({ name: 'email_verified', type: 'boolean', default: no }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropColumn('users', 'email_verified');
  }
}
