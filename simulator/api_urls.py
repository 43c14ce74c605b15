"""The vehicle API: /simulator/api/v2.0/…"""

urlpatterns: list = []
