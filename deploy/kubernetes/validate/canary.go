package main

func runCanaries(targets []target) ([]string, bool) { return nil, true }
