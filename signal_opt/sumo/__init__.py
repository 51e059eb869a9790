"""The only package that imports sumolib / traci / libsumo."""
