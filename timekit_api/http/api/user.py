"""User tag: accounts, sign-in and sign-out. A user record is only its owner's business.

The rules (usernames, passwords, throttling) are ``domain/accounts.py``'s.
"""

from __future__ import annotations

from flask import current_app, jsonify, request
from flask.views import MethodView
from flask_smorest import abort

from ...database import db
from ...domain import access, accounts, schemas, tokens
from ...domain.tokens import ACCOUNT
from ..auth import AUTHENTICATE_HEADER, current_principal, current_user_id, multi_auth
from ..blueprint import Blueprint
from ..responses import api_response

blp = Blueprint("user", __name__, url_prefix="/user", tag="User")


def hashing() -> accounts.Hashing:
    return accounts.Hashing.from_config(current_app.config)


def own_user(username: str):
    user = accounts.get_user(username)
    access.require_owner("User", current_user_id(), user.id)
    return user


@blp.route("")
class Users(MethodView):
    @blp.operation("createUser")
    @multi_auth.login_required(optional=True)
    @blp.idempotent()
    @blp.arguments(schemas.UserSchema, description="Created user object")
    @blp.response(200, schemas.UserResponseSchema, description="successful operation")
    @blp.fails_with(_400="Invalid user supplied", _401="Sign-up is disabled: sign in first",
                    _409="Username or email already taken", _415="Body is not JSON")
    def post(self, data):
        """Create user

        Open sign-up unless the service disables it (`SIGNUP_ENABLED`); then only a signed-in
        user can create users.
        """
        principal = current_principal()
        if not current_app.config["SIGNUP_ENABLED"] and principal is None:
            abort(401, message="Sign-up is disabled: sign in to create users",
                  headers={"WWW-Authenticate": AUTHENTICATE_HEADER})
        if principal is not None and ACCOUNT not in principal.permissions:
            abort(403, message="A token with scope limits cannot create users")
        return accounts.create_users([data], hashing())[0]


def batch_view(summary: str, operation_id: str):
    @blp.operation(operation_id)
    @blp.login_required(ACCOUNT)
    @blp.idempotent()
    @blp.arguments(schemas.UserSchema(many=True), description="List of user object")
    @blp.response(200, schemas.UserResponseSchema(many=True), description="successful operation")
    @blp.fails_with(_400="Invalid user supplied", _409="Username or email already taken",
                    _413=f"More than {accounts.MAX_BATCH_USERS} users", _415="Body is not JSON",
                    _503="Password hashing is busy; see Retry-After")
    def post(self, batch):
        return accounts.create_users(batch, hashing())

    post.__doc__ = (summary + "\n\nAll or nothing: one invalid or taken user creates none. "
                    f"At most {accounts.MAX_BATCH_USERS} users per request.")
    return post


@blp.route("/createWithArray")
class UsersWithArray(MethodView):
    post = batch_view("Creates list of users with given input array",
                      "createUsersWithArrayInput")


@blp.route("/createWithList")
class UsersWithList(MethodView):
    post = batch_view("Creates list of users with given input array",
                      "createUsersWithListInput")


@blp.route("/login")
class Login(MethodView):
    @blp.arguments(schemas.LoginQuerySchema, location="query")
    @blp.response(200, {"type": "string"}, description="successful operation", headers={
        "X-Rate-Limit": {"description": "calls per hour allowed by the user",
                         "schema": {"type": "integer", "format": "int32"}},
        "X-Expires-After": {"description": "date in UTC when token expires",
                            "schema": {"type": "string", "format": "date-time"}},
    })
    @blp.operation("loginUser")
    @blp.fails_with(_400="Invalid username/password supplied",
                    _429="Too many failed attempts; see Retry-After",
                    _503="Password hashing is busy; see Retry-After")
    def get(self, args):
        """Logs user into the system"""
        if request.method == "HEAD":  # a HEAD answer has no body: it must not mint a token
            abort(405, message="Use GET to sign in", headers={"Allow": "GET"})
        user = accounts.verify_login(args["username"], args["password"], current_app.config,
                                     request.remote_addr)
        if user is None:
            abort(400, message="Invalid username/password supplied")
        token, row = tokens.issue_token(user, "login", current_app.config["TOKEN_TTL_SECONDS"])
        db.session.commit()
        response = jsonify(token)
        response.headers["X-Rate-Limit"] = str(current_app.config["RATE_LIMIT_PER_HOUR"])
        response.headers["X-Expires-After"] = row.expires_at.isoformat().replace("+00:00", "Z")
        response.headers["Cache-Control"] = "no-store"
        return response


@blp.route("/logout")
class Logout(MethodView):
    @blp.operation("logoutUser")
    @blp.login_required(None)
    @blp.arguments(schemas.LogoutQuerySchema, location="query")
    @blp.response(200, schemas.ApiResponseSchema, description="successful operation")
    def get(self, args):
        """Logs out current logged in user session

        Revokes the token the request was made with (and the other token of a `POST /auth`
        pair); with `all=true`, every token of the user.
        """
        if args["all"]:
            tokens.revoke_all(current_user_id())
        else:
            tokens.revoke(current_principal())
        db.session.commit()
        return api_response("ok")


@blp.route("/<username>")
class UserByName(MethodView):
    @blp.operation("getUserByName")
    @blp.login_required(ACCOUNT)
    @blp.response(200, schemas.UserResponseSchema, description="successful operation")
    @blp.fails_with(_400="Invalid username supplied", _403="Another user's record",
                    _404="User not found")
    def get(self, username):
        """Get user by user name

        Users can read only their own record.
        """
        return own_user(username)

    @blp.operation("updateUser")
    @blp.login_required(ACCOUNT)
    @blp.arguments(schemas.UserUpdateSchema, description="Updated user object")
    @blp.response(200, schemas.UserResponseSchema, description="successful operation")
    @blp.fails_with(_400="Invalid user supplied", _403="Another user's record",
                    _404="User not found", _409="Username or email already taken",
                    _415="Body is not JSON", _503="Password hashing is busy; see Retry-After")
    def put(self, data, username):
        """Updated user

        This can only be done by the logged in user, with a token without scope limits.
        Leaving `password` out keeps it; changing it revokes every other token of the user.
        """
        user, password_changed = accounts.update_user(own_user(username), data, hashing())
        if password_changed:
            tokens.revoke_others(user.id, current_principal().token_id)
        db.session.commit()
        return user

    @blp.operation("deleteUser")
    @blp.login_required(ACCOUNT)
    @blp.response(200, schemas.ApiResponseSchema, description="successful operation")
    @blp.fails_with(_400="Invalid username supplied", _403="Another user's record",
                    _404="User not found")
    def delete(self, username):
        """Delete user

        This can only be done by the logged in user. Their tokens and orders go with them;
        their pets stay in the store without an owner.
        """
        accounts.delete_user(own_user(username))
        return api_response(username)
