"""The API's blueprints, one per spec tag (pets and bookings share "Booking"), in the order
the docs show them."""

from . import auth, bookings, credentials, pet, resources, store, user

BLUEPRINTS = (auth.blp, credentials.blp, pet.blp, bookings.blp, resources.blp, store.blp,
              user.blp)
