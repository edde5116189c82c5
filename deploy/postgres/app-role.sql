-- The role enroll-server runs as: it reads and writes rows, nothing more.
-- Tables, indexes and constraints belong to the schema owner, who applies
-- migrations (`enroll-server migrate`); the server then runs with
-- ENROLL_MIGRATE_ON_START=false.
--
--   psql -v app_user=enroll_app -v app_password=... -v owner=enroll \
--        -v db=enroll -f app-role.sql          (as the owner or a superuser)
CREATE ROLE :"app_user" LOGIN PASSWORD :'app_password';
GRANT CONNECT ON DATABASE :"db" TO :"app_user";
GRANT USAGE ON SCHEMA public TO :"app_user";
-- Tables the owner creates from now on, and those that exist already.
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"app_user";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO :"app_user";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"app_user";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO :"app_user";
-- No CREATE on the schema (PostgreSQL 15 no longer grants it to PUBLIC;
-- revoked here for older servers too).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
