import { Column, Entity, MigrationInterface, PrimaryColumn, QueryRunner, Table } from 'typeorm';

/**
 * Extra user fields without forking AuthSwitch: the host's own table, keyed by AuthSwitch's user
 * id. The `claims` option copies what requests need into every credential.
 */
@Entity('profiles')
export class Profile {
  @PrimaryColumn({ name: 'user_id', type: 'varchar', length: 36 })
  userId: string;

  @Column({ type: 'varchar', length: 20 })
  plan: string;
}

export class CreateProfiles1900000000001 implements MigrationInterface {
  name = 'CreateProfiles1900000000001';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'profiles',
        columns: [
          { name: 'user_id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'plan', type: 'varchar', length: '20' },
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('profiles');
  }
}
